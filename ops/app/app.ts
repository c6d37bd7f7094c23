// `imflow start`: the infrastructure (configured or embedded), the contract's topics, the
// topologies and the HTTP API, in that order; stop() takes them down in reverse.

import type { Admin, Kafka } from 'kafkajs'
import { largeGroupHead } from '../../connectors/http/large-group-head.js'
import { limitRoutes } from '../../connectors/http/limit-routes.js'
import { LoadMonitor } from '../../connectors/http/load-shedding.js'
import { peerStoreClient } from '../../connectors/http/peer-client.js'
import { peerRoutes } from '../../connectors/http/peer-routes.js'
import { buildApi } from '../../connectors/http/server.js'
import { gatewayElsewhere } from '../../connectors/http/user-home-reads.js'
import { createPushGateway } from '../../connectors/push-gateway/index.js'
import { type ContractCodecs, registerContract } from '../../schemas/contract.js'
import { registrySchemaSource } from '../../schemas/schema-source.js'
import { topicName } from '../../schemas/topics.js'
import { largeGroupsOf } from '../../topologies/inbox/index.js'
import { kafkaProbe, type Probe, registryProbe, topologiesProbe } from '../health.js'
import { createKafka } from '../kafka-client.js'
import type { Logger } from '../log.js'
import {
  createMetrics,
  type Metrics,
  registerForwardMetrics,
  registerGatewayMetrics,
  registerShapingMetrics,
} from '../metrics.js'
import type { Config } from './config.js'
import { type Infrastructure, startInfrastructure } from './infrastructure.js'
import { startMessaging, userHomes } from './messaging.js'
import { provisionModuleTopics, provisionTopics } from './provision-topics.js'
import { RemoteTargetWatch, remoteTopicsOf } from './remote-targets.js'
import { StopSteps } from './stop-steps.js'
import { type RunningTopologies, startTopologies } from './topologies.js'

export interface RunningApp {
  /** The API's base URL, e.g. http://127.0.0.1:8080. */
  readonly url: string
  readonly infrastructure: Infrastructure
  /** What /metrics reports; other processes' metrics can be merged in (addSource). */
  readonly metrics: Metrics
  stop(): Promise<void>
}

export interface AppOptions {
  /** More readiness probes for /readyz (the stream threads' processes, when there are several). */
  probes?: Record<string, Probe>
}

export async function startApp(
  config: Config,
  log: Logger,
  options: AppOptions = {},
): Promise<RunningApp> {
  const infrastructure = await startInfrastructure(config, log)
  const steps = new StopSteps(log)
  steps.push('the infrastructure', () => infrastructure.stop())
  const stop = () => steps.stop()
  try {
    const kafka = createKafka(infrastructure.kafkaBrokers, config.appId, log)
    const admin: Admin = kafka.admin()
    await admin.connect()
    steps.push('the admin client', () => admin.disconnect())
    const topics = await provisionTopics(admin, config, log)
    await provisionModuleTopics(admin, config, log)
    const schemas = registrySchemaSource(infrastructure.schemaRegistryUrl)
    const codecs = await registerContract(schemas, config.topicPrefix)
    log.info('topics provisioned and schemas registered', {
      topics: topics.length,
      created: topics.filter((t) => t.action === 'created').length,
    })

    const metrics = createMetrics()
    // Other geos' and units' topics: each missing one is named now, with its fix.
    const remoteTargets = await RemoteTargetWatch.start(admin, remoteTopicsOf(config), log)
    steps.push('the remote targets watch', async () => remoteTargets.stop())
    registerForwardMetrics(metrics.registry, () => remoteTargets.counts())
    const messaging = await startMessaging(config, kafka, codecs, log)
    steps.push('messaging', () => messaging.stop())
    const topologies = await startTopologies({
      config,
      kafka,
      codecs,
      schemas,
      log,
      metrics: metrics.task,
      topologyMetrics: { merge: metrics.merge, receiver: metrics.receiver },
      remoteTargets,
      peers: {
        advertisedUrl: config.advertisedUrl,
        client: peerStoreClient({ jwtSecret: messaging.routes.jwtSecret }),
      },
    })
    for (const topology of topologies.all)
      steps.push(`topology ${topology.name}`, () => topology.stop())
    // Positioned on im.sync before the API listens: no envelope for a device is missed.
    const gateway = config.gateway
      ? await startGateway(config, kafka, codecs, topologies, messaging, log)
      : undefined
    if (gateway) {
      steps.push('the push gateway', () => gateway.stop())
      registerGatewayMetrics(metrics.registry, () => gateway.stats())
    }
    const load = new LoadMonitor({
      maxInFlight: config.maxInFlight,
      maxEventLoopLagMs: config.maxEventLoopLagMs,
    })
    const api = await buildApi({
      load,
      metrics,
      logLevel: config.logLevel,
      messaging: {
        ...messaging.routes,
        queries: topologies.queries,
        users: userHomes(config, topologies.users),
      },
      probes: {
        kafka: kafkaProbe(admin),
        schema_registry: registryProbe(infrastructure.schemaRegistryUrl),
        ...(gateway ? { push_gateway: gateway.probe } : {}),
        topologies: topologiesProbe(topologies.topologies),
        load: load.probe,
        forward_targets: async () => remoteTargets.probe(),
        ...options.probes,
      },
    })
    if (gateway) await api.register(gateway.routes)
    await api.register(limitRoutes, {
      jwtSecret: messaging.routes.jwtSecret,
      limits: topologies.limits,
    })
    registerShapingMetrics(metrics.registry, () => topologies.shaping.snapshot(Date.now()))
    // Other instances read the partitions this one owns here.
    await api.register(peerRoutes, {
      jwtSecret: messaging.routes.jwtSecret,
      topologies: topologies.topologies,
    })
    const url = await api.listen({ host: config.apiHost, port: config.apiPort })
    steps.push('the API', () => api.close())
    // Again (it runs once): devices are logged out before the server drops their sockets.
    if (gateway) steps.push('the push gateway', () => gateway.stop())
    log.info('imflow is up', {
      api: url,
      kafka: infrastructure.kafkaBrokers.join(','),
      registry: infrastructure.schemaRegistryUrl,
    })
    return { url, infrastructure, metrics, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

/** The in-process push gateway: it asks this instance's queries about users' large groups. */
function startGateway(
  config: Config,
  kafka: Kafka,
  codecs: ContractCodecs,
  topologies: Pick<RunningTopologies, 'queries' | 'users'>,
  messaging: Awaited<ReturnType<typeof startMessaging>>,
  log: Logger,
) {
  const { queries } = topologies
  // A group homed elsewhere: its size, seq and members as its home unit or geo counts them.
  const homes = { units: messaging.routes.units, geos: messaging.routes.homes }
  const head = (conversationId: string, userId: string, token: string) =>
    largeGroupHead(homes, queries.receiver, {
      conversationId,
      userId,
      token,
      threshold: config.largeGroupThreshold,
    })
  return createPushGateway({
    kafka,
    topics: {
      sync: topicName(config.topicPrefix, 'im.sync'),
      rooms: topicName(config.topicPrefix, 'im.rooms'),
      deviceEvents: topicName(config.topicPrefix, 'im.device-events'),
    },
    codecs: {
      sync: codecs['im.sync'],
      rooms: codecs['im.rooms'],
      deviceEvents: codecs['im.device-events'],
    },
    rooms: {
      largeGroupsOf: (userId, token) =>
        largeGroupsOf(queries.inbox, userId, (conversationId) =>
          head(conversationId, userId, token),
        ),
      largeGroup: (userId, conversationId, token) => head(conversationId, userId, token),
    },
    jwtSecret: messaging.routes.jwtSecret,
    // A user homed in another unit is pushed there (docs/units.md).
    elsewhere: gatewayElsewhere(
      (userId) => topologies.users.get(userId),
      config.unit,
      config.remoteUnits,
      config.remoteUnitUrls,
    ),
    appId: config.appId,
    log,
  })
}
