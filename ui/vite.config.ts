import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The API serves dist/ at "/", so assets are rooted there; during `npm run dev`
// API calls are proxied to a running `leadflow dev` (LEADFLOW_API, default :8000).
export default defineConfig({
  plugins: [react()],
  base: "/",
  build: { outDir: "dist", sourcemap: false, chunkSizeWarningLimit: 2500 },
  server: {
    proxy: { "/api": process.env.LEADFLOW_API ?? "http://127.0.0.1:8000" },
  },
  // elk lays out the shipped flows in a worker; on a busy 2-core machine one layout can take
  // more than vitest's default 5 s, which says nothing about the studio: allow 30 s.
  test: { environment: "node", include: ["src/**/*.test.ts"], testTimeout: 30_000 },
});
