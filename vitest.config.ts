import { defineConfig } from 'vitest/config';

// The OpenCV binding must never try to build OpenCV when a test imports it.
process.env.OPENCV4NODEJS_DISABLE_AUTOBUILD ??= '1';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: run files one at a time per worker so timings and tesseract workers do not starve each other.
    maxWorkers: 2,
    pool: 'forks',
  },
});
