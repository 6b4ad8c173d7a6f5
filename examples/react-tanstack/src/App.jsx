import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { AUTH_URL, authClient } from "./auth.js";
import { apiFetch } from "./api.js";
import { SESSION_KEY, useAuth } from "./session.js";

const style = { fontFamily: "system-ui, sans-serif", maxWidth: 480, margin: "2rem auto", lineHeight: 1.5 };

export function App() {
  const { session, loading } = useAuth();
  if (loading) return <main style={style}>Loading…</main>;
  return <main style={style}>{session ? <Dashboard session={session} /> : <SignIn />}</main>;
}

function SignIn() {
  const queryClient = useQueryClient();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const done = (result) => {
    if (result.error) setError(result.error.message || result.error.code);
    else queryClient.invalidateQueries({ queryKey: SESSION_KEY });
  };
  const signIn = async (e) => {
    e.preventDefault();
    done(await authClient.signIn.email({ email, password }));
  };
  const signUp = async () => done(await authClient.signUp.email({ email, password, name: email.split("@")[0] }));
  return (
    <form onSubmit={signIn} aria-labelledby="sign-in-title">
      <h1 id="sign-in-title">Sign in</h1>
      <p>
        <label htmlFor="email">Email</label>
        <br />
        <input id="email" type="email" autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)} required />
      </p>
      <p>
        <label htmlFor="password">Password</label>
        <br />
        <input id="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
      </p>
      <button type="submit">Sign in</button> <button type="button" onClick={signUp}>Create account</button>
      {error && <p role="alert">{error}</p>}
    </form>
  );
}

function Dashboard({ session }) {
  const queryClient = useQueryClient();
  const orgs = useQuery({
    queryKey: ["organizations", session.user.id],
    queryFn: async () => (await authClient.organization.list()).data ?? [],
  });
  const [newOrg, setNewOrg] = useState("");
  const [role, setRole] = useState("");
  const activeId = session.session.activeOrganizationId;
  const active = (orgs.data ?? []).find((o) => o.id === activeId);
  const refreshAll = () => queryClient.invalidateQueries();

  const create = useMutation({
    mutationFn: async (name) => {
      const slug = `${name.toLowerCase().replace(/[^a-z0-9]+/g, "-")}-${Date.now()}`;
      const r = await authClient.organization.create({ name, slug });
      if (r.error) throw new Error(r.error.message);
      await authClient.organization.setActive({ organizationId: r.data.id });
    },
    onSuccess: () => {
      setNewOrg("");
      refreshAll();
    },
  });
  const switchTo = useMutation({
    mutationFn: (organizationId) => authClient.organization.setActive({ organizationId }),
    onSuccess: () => {
      setRole("");
      refreshAll();
    },
  });
  const loadRole = async () => {
    const res = await apiFetch(queryClient, `${AUTH_URL}/organization/get-active-member`);
    setRole(res.ok ? (await res.json())?.role ?? "none" : `error ${res.status}`);
  };
  const signOut = async () => {
    await authClient.signOut();
    queryClient.setQueryData(SESSION_KEY, null);
  };

  return (
    <section aria-labelledby="dash-title">
      <h1 id="dash-title">Hello</h1>
      <p data-testid="who">Signed in as {session.user.email}</p>
      <p>
        <label htmlFor="org">Organization</label>
        <br />
        <select id="org" value={activeId ?? ""} onChange={(e) => switchTo.mutate(e.target.value)}>
          <option value="" disabled>
            Choose…
          </option>
          {(orgs.data ?? []).map((o) => (
            <option key={o.id} value={o.id}>
              {o.name}
            </option>
          ))}
        </select>
      </p>
      <p data-testid="active">Active: {active ? active.name : "none"}</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate(newOrg);
        }}
      >
        <label htmlFor="new-org">New organization</label>
        <br />
        <input id="new-org" value={newOrg} onChange={(e) => setNewOrg(e.target.value)} required /> <button type="submit">Create</button>
      </form>
      <p>
        <button type="button" onClick={loadRole}>
          My role here
        </button>{" "}
        <span data-testid="role">{role}</span>
      </p>
      <button type="button" onClick={signOut}>
        Sign out
      </button>
    </section>
  );
}
