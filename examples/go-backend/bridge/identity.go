// Package bridge puts a Castellan (Better Auth) session in front of a Go HTTP service: it reads the
// better-auth.session_token cookie, validates it (against the shared session table, or by asking
// Castellan's get-session), refreshes it when it is due, and puts the user and the active
// organization in the request context.
package bridge

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Identity is who a request acts as. OrganizationID comes from the validated session, never from
// the client: every org-scoped query filters by it.
type Identity struct {
	UserID         string
	Email          string
	Name           string
	OrganizationID string
	Token          string
	ExpiresAt      time.Time
}

// ErrNoSession means the request carries no valid session: answer 401.
var ErrNoSession = errors.New("no valid session")

// ErrUnavailable means the session could not be checked (database or Castellan down): answer 503.
var ErrUnavailable = errors.New("session store unavailable")

// Sessions validates a request's session. SetCookie is filled with any cookie the client must
// receive (a refreshed session).
type Sessions interface {
	Validate(r *http.Request) (id Identity, setCookies []string, err error)
}

type ctxKey struct{}

// FromContext returns the request's identity, set by Middleware.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}

// Middleware admits requests with a valid session and puts their Identity in the context.
func Middleware(sessions Sessions, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, setCookies, err := sessions.Validate(r)
		switch {
		case errors.Is(err, ErrNoSession):
			writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "sign in first")
			return
		case err != nil:
			writeError(w, http.StatusServiceUnavailable, "AUTH_UNAVAILABLE", "the session could not be checked")
			return
		}
		for _, c := range setCookies {
			w.Header().Add("Set-Cookie", c)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, id)))
	})
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"code":"` + code + `","message":"` + message + `"}`))
}
