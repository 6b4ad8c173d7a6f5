import { fetchSession, SESSION_KEY } from "./session.js";

/** Every call the app makes, counted, so a test can see the retry. */
export const apiLog = [];

/**
 * fetch with the session cookie. On a 401 it refreshes the session (a fresh get-session, which
 * also renews an expiring cookie) and retries once; a second 401 means the session is gone: the
 * cached session is cleared, which sends the app to the sign-in page.
 */
export async function apiFetch(queryClient, url, init = {}) {
  const send = async () => {
    const res = await fetch(url, { ...init, credentials: "include" });
    apiLog.push(`${res.status} ${new URL(url).pathname}`);
    return res;
  };
  let res = await send();
  if (res.status !== 401) return res;
  const session = await fetchSession(true);
  apiLog.push(`refresh ${session ? "kept" : "gone"}`);
  res = await send();
  if (res.status !== 401) {
    queryClient.setQueryData(SESSION_KEY, session);
    return res;
  }
  queryClient.setQueryData(SESSION_KEY, null);
  return res;
}
