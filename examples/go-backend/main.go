// A Go backend behind Castellan. Environment:
//
//	CASTELLAN_URL    the auth API, e.g. https://auth.example.com/api/auth (get-session mode)
//	DATABASE_URL     Castellan's Postgres: validate against the session table instead
//	CASTELLAN_SECRET Castellan's secret (needed with DATABASE_URL, to check cookie signatures)
//	ALLOWED_ORIGIN   the frontend's origin (CORS with credentials, CSRF check)
//	LISTEN           address to listen on (default :8080)
package main

import (
	"database/sql"
	"log"
	"net/http"
	"os"

	_ "github.com/lib/pq"

	"castellan.example/go-backend/bridge"
	"castellan.example/go-backend/projects"
)

func main() {
	var sessions bridge.Sessions
	if dsn := os.Getenv("DATABASE_URL"); dsn != "" {
		db, err := sql.Open("postgres", dsn)
		if err != nil {
			log.Fatal(err)
		}
		sessions = bridge.NewPostgresSessions(db, os.Getenv("CASTELLAN_SECRET"))
	} else {
		sessions = bridge.NewRemoteSessions(os.Getenv("CASTELLAN_URL"))
	}
	listen := os.Getenv("LISTEN")
	if listen == "" {
		listen = ":8080"
	}
	log.Printf("listening on %s", listen)
	log.Fatal(http.ListenAndServe(listen, NewHandler(sessions, os.Getenv("ALLOWED_ORIGIN"), projects.NewStore())))
}
