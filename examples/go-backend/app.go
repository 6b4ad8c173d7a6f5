package main

import (
	"net/http"

	"castellan.example/go-backend/bridge"
	"castellan.example/go-backend/projects"
)

// NewHandler wires the bridge in front of the demo API: CORS and the CSRF check outermost, then
// the session, then the handlers.
func NewHandler(sessions bridge.Sessions, allowedOrigin string, store *projects.Store) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/api/me", bridge.Middleware(sessions, http.HandlerFunc(projects.Me)))
	mux.Handle("/api/projects", bridge.Middleware(sessions, store.Handler()))
	return bridge.CORS(allowedOrigin, mux)
}
