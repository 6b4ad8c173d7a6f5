package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"castellan.example/go-backend/bridge"
	"castellan.example/go-backend/projects"
)

// The tests run against a started Castellan: CASTELLAN_ORIGIN (its origin), CASTELLAN_SECRET,
// and DATABASE_URL when it runs on Postgres (then the session-table mode is tested too).

const frontend = "http://app.example.test"

type user struct {
	http   *http.Client
	email  string
	cookie string // the signed session cookie value
	orgID  string
}

func origin(t *testing.T) string {
	o := os.Getenv("CASTELLAN_ORIGIN")
	if o == "" {
		t.Skip("CASTELLAN_ORIGIN is not set")
	}
	return strings.TrimRight(o, "/")
}

func call(t *testing.T, u *user, method, path string, body any) map[string]any {
	t.Helper()
	var reader io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		reader = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, origin(t)+"/api/auth"+path, reader)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", origin(t))
	res, err := u.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	if res.StatusCode != 200 {
		t.Fatalf("%s %s: %d %v", method, path, res.StatusCode, out)
	}
	return out
}

// newUser signs a fresh user up at Castellan, with an organization of their own set active.
func newUser(t *testing.T, tag string) *user {
	jar, _ := cookiejar.New(nil)
	u := &user{http: &http.Client{Jar: jar}, email: fmt.Sprintf("go-%s-%d@example.test", tag, rand.Int63())}
	call(t, u, "POST", "/sign-up/email", map[string]string{"email": u.email, "password": "go-example-password", "name": tag})
	slug := fmt.Sprintf("go-%s-%d", tag, rand.Int63())
	org := call(t, u, "POST", "/organization/create", map[string]string{"name": "Org " + tag, "slug": slug})
	u.orgID = org["id"].(string)
	call(t, u, "POST", "/organization/set-active", map[string]string{"organizationId": u.orgID})
	base, _ := url.Parse(origin(t))
	for _, c := range jar.Cookies(base) {
		if c.Name == "better-auth.session_token" {
			u.cookie = c.Value
		}
	}
	if u.cookie == "" {
		t.Fatal("no session cookie")
	}
	return u
}

type mode struct {
	name     string
	sessions bridge.Sessions
	db       *sql.DB
}

func modes(t *testing.T) []mode {
	out := []mode{{name: "get-session", sessions: bridge.NewRemoteSessions(origin(t) + "/api/auth")}}
	if dsn := os.Getenv("DATABASE_URL"); dsn != "" {
		db, err := sql.Open("postgres", dsn)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, mode{name: "session-table", sessions: bridge.NewPostgresSessions(db, os.Getenv("CASTELLAN_SECRET")), db: db})
	}
	return out
}

func request(t *testing.T, h http.Handler, method, path, cookie, from string, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if cookie != "" {
		req.Header.Set("Cookie", "better-auth.session_token="+cookie)
	}
	if from != "" {
		req.Header.Set("Origin", from)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestTheSessionPutsUserAndOrganizationInTheContext(t *testing.T) {
	a := newUser(t, "me")
	for _, m := range modes(t) {
		h := NewHandler(m.sessions, frontend, projects.NewStore())
		rec := request(t, h, "GET", "/api/me", a.cookie, "", "")
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", m.name, rec.Code, rec.Body)
		}
		var me map[string]string
		_ = json.Unmarshal(rec.Body.Bytes(), &me)
		if me["email"] != a.email || me["organizationId"] != a.orgID {
			t.Fatalf("%s: %v", m.name, me)
		}
		if rec := request(t, h, "GET", "/api/me", "", "", ""); rec.Code != 401 {
			t.Fatalf("%s: no cookie: %d", m.name, rec.Code)
		}
		tampered := strings.Replace(a.cookie, a.cookie[:4], "XXXX", 1)
		if rec := request(t, h, "GET", "/api/me", tampered, "", ""); rec.Code != 401 {
			t.Fatalf("%s: tampered cookie: %d", m.name, rec.Code)
		}
	}
}

func TestProjectsAreScopedToTheSessionsOrganization(t *testing.T) {
	a, b := newUser(t, "alice"), newUser(t, "bob")
	for _, m := range modes(t) {
		h := NewHandler(m.sessions, frontend, projects.NewStore())
		// Bob's organization id in the body changes nothing: the session decides.
		body := fmt.Sprintf(`{"name":"roadmap","organizationId":%q}`, b.orgID)
		rec := request(t, h, "POST", "/api/projects", a.cookie, frontend, body)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), a.orgID) {
			t.Fatalf("%s: create: %d %s", m.name, rec.Code, rec.Body)
		}
		if rec := request(t, h, "GET", "/api/projects", b.cookie, "", ""); strings.TrimSpace(rec.Body.String()) != "[]" {
			t.Fatalf("%s: bob sees %s", m.name, rec.Body)
		}
		if rec := request(t, h, "GET", "/api/projects", a.cookie, "", ""); !strings.Contains(rec.Body.String(), "roadmap") {
			t.Fatalf("%s: alice sees %s", m.name, rec.Body)
		}
	}
}

func TestCORSForOneOriginAndCSRFOnWrites(t *testing.T) {
	a := newUser(t, "cors")
	h := NewHandler(modes(t)[0].sessions, frontend, projects.NewStore())
	for _, from := range []string{"", "http://evil.example"} {
		if rec := request(t, h, "POST", "/api/projects", a.cookie, from, `{"name":"x"}`); rec.Code != 403 {
			t.Fatalf("a write from %q: %d", from, rec.Code)
		}
	}
	pre := request(t, h, "OPTIONS", "/api/projects", "", frontend, "")
	if pre.Code != 204 || pre.Header().Get("Access-Control-Allow-Origin") != frontend || pre.Header().Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("preflight: %d %v", pre.Code, pre.Header())
	}
	if other := request(t, h, "OPTIONS", "/api/projects", "", "http://evil.example", ""); other.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("another origin got CORS headers: %v", other.Header())
	}
}

func TestASignedOutSessionIsRefusedAtOnce(t *testing.T) {
	a := newUser(t, "out")
	call(t, a, "POST", "/sign-out", map[string]string{})
	for _, m := range modes(t) {
		h := NewHandler(m.sessions, frontend, projects.NewStore())
		if rec := request(t, h, "GET", "/api/me", a.cookie, "", ""); rec.Code != 401 {
			t.Fatalf("%s: %d", m.name, rec.Code)
		}
	}
}

func TestTheSessionTableModeRefreshesAndExpires(t *testing.T) {
	var m *mode
	for _, candidate := range modes(t) {
		if candidate.db != nil {
			c := candidate
			m = &c
		}
	}
	if m == nil {
		t.Skip("DATABASE_URL is not set (Castellan on SQLite)")
	}
	a := newUser(t, "refresh")
	token, ok := bridge.VerifyCookie(os.Getenv("CASTELLAN_SECRET"), a.cookie)
	if !ok {
		t.Fatal("the cookie's signature does not verify with CASTELLAN_SECRET")
	}
	// An hour left: well past the daily extension, so this request extends it.
	if _, err := m.db.Exec(`UPDATE "session" SET "expiresAt" = $1 WHERE "token" = $2`, time.Now().Add(time.Hour), token); err != nil {
		t.Fatal(err)
	}
	h := NewHandler(m.sessions, frontend, projects.NewStore())
	rec := request(t, h, "GET", "/api/me", a.cookie, "", "")
	if rec.Code != 200 || !strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=604800") {
		t.Fatalf("refresh: %d %v", rec.Code, rec.Header())
	}
	var expires time.Time
	_ = m.db.QueryRow(`SELECT "expiresAt" FROM "session" WHERE "token" = $1`, token).Scan(&expires)
	if time.Until(expires) < 6*24*time.Hour {
		t.Fatalf("not extended: %v", expires)
	}
	if _, err := m.db.Exec(`UPDATE "session" SET "expiresAt" = $1 WHERE "token" = $2`, time.Now().Add(-time.Minute), token); err != nil {
		t.Fatal(err)
	}
	if rec := request(t, h, "GET", "/api/me", a.cookie, "", ""); rec.Code != 401 {
		t.Fatalf("expired: %d", rec.Code)
	}
}
