import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Before kafkajs loads: ops/kafkajs-fixes.ts.
          setupFiles: ['ops/kafkajs-fixes.ts'],
          // The fast tier runs first.
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          setupFiles: ['ops/kafkajs-fixes.ts'],
          // One Kafka broker and one registry for the whole run (or the ones configured).
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Three on two cores: most files wait (on sessions, paced input, restarts), and with
          // three the machine was 65% busy and the tier took 503 s, against 655 s with two.
          maxWorkers: 3,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
})
