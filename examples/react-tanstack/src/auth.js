import { createAuthClient } from "better-auth/react";
import { organizationClient } from "better-auth/client/plugins";

// The official Better Auth client, pointed at Castellan (VITE_AUTH_URL, e.g.
// https://auth.example.com/api/auth). Cookies are sent cross-origin: Castellan must list this
// app's origin in TRUSTED_ORIGINS, and both must be on the same site for its SameSite=Lax cookie.
export const authClient = createAuthClient({
  baseURL: import.meta.env.VITE_AUTH_URL,
  plugins: [organizationClient()],
});

export const AUTH_URL = import.meta.env.VITE_AUTH_URL;
