import { defineConfig } from "vite";

// Plain JSX (React's automatic runtime), no TypeScript: the example is about the auth wiring.
export default defineConfig({ esbuild: { jsx: "automatic" } });
