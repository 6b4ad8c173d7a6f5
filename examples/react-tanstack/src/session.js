import { useQuery, useQueryClient } from "@tanstack/react-query";
import { authClient } from "./auth.js";

export const SESSION_KEY = ["session"];

/** Asks Castellan for the session; `fresh` skips its cookie cache. `null` when signed out. */
export async function fetchSession(fresh = false) {
  const { data, error } = await authClient.getSession(fresh ? { query: { disableCookieCache: true } } : undefined);
  if (error) throw new Error(error.message || "get-session failed");
  return data ?? null;
}

/** The session, held by TanStack Query: every component reads the same cached answer. */
export function useAuth() {
  const queryClient = useQueryClient();
  const session = useQuery({ queryKey: SESSION_KEY, queryFn: () => fetchSession(), staleTime: 30_000 });
  return {
    session: session.data ?? null,
    loading: session.isPending,
    refresh: () => queryClient.invalidateQueries({ queryKey: SESSION_KEY }),
  };
}
