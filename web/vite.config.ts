import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The gateway serves dist/ at "/": hashed files under /assets/ (cached immutably), index.html never cached.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    assetsDir: "assets",
    // Nothing inlined as data: URLs or inline scripts: the CSP allows 'self' only.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
});
