// GET /dashboard: a live page over /metrics (plain HTML and JavaScript, charts in inline SVG,
// no build step, nothing from a CDN). The files are read once, when the plugin registers.

import { readFile } from 'node:fs/promises'
import type { FastifyPluginAsync } from 'fastify'

const folder = new URL('./dashboard/', import.meta.url)
const scripts = ['dashboard.js', 'charts.js', 'metrics-text.js', 'metric-names.js'] as const

export const dashboardRoutes: FastifyPluginAsync = async (app) => {
  const read = (name: string) => readFile(new URL(name, folder), 'utf8')
  const page = await read('index.html')
  const code = new Map(await Promise.all(scripts.map(async (n) => [n, await read(n)] as const)))
  app.get('/dashboard', async (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(page),
  )
  for (const [name, text] of code) {
    app.get(`/dashboard/${name}`, async (_request, reply) =>
      reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(text),
    )
  }
}
