package bridge

import "net/http"

// CORS admits one frontend origin with credentials, answers its preflights, and refuses
// state-changing requests that do not come from it (a CSRF check on the Origin header; the
// session cookie is SameSite=Lax, this closes the rest).
func CORS(allowedOrigin string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == allowedOrigin {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", allowedOrigin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			if origin == allowedOrigin {
				w.Header().Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE")
				w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
				w.Header().Set("Access-Control-Max-Age", "600")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		safe := r.Method == http.MethodGet || r.Method == http.MethodHead
		if !safe && origin != allowedOrigin {
			writeError(w, http.StatusForbidden, "INVALID_ORIGIN", "cross-site request refused")
			return
		}
		next.ServeHTTP(w, r)
	})
}
