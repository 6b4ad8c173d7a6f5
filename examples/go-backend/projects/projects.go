// Package projects is the demo resource: every read and write is scoped to the organization of
// the caller's validated session, never to an id the client sends.
package projects

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"

	"castellan.example/go-backend/bridge"
)

type Project struct {
	ID             string `json:"id"`
	OrganizationID string `json:"organizationId"`
	Name           string `json:"name"`
	CreatedBy      string `json:"createdBy"`
}

// Store keeps projects per organization (in memory: the example is about the scoping).
type Store struct {
	mu    sync.Mutex
	next  int
	byOrg map[string][]Project
}

func NewStore() *Store { return &Store{byOrg: map[string][]Project{}} }

func (s *Store) list(org string) []Project {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Project{}, s.byOrg[org]...)
}

func (s *Store) create(org, name, by string) Project {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	p := Project{ID: strconv.Itoa(s.next), OrganizationID: org, Name: name, CreatedBy: by}
	s.byOrg[org] = append(s.byOrg[org], p)
	return p
}

// Handler serves GET and POST /api/projects for the caller's active organization.
func (s *Store) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := bridge.FromContext(r.Context())
		if id.OrganizationID == "" {
			writeJSON(w, http.StatusForbidden, map[string]string{"code": "NO_ACTIVE_ORGANIZATION", "message": "set an active organization first"})
			return
		}
		switch r.Method {
		case http.MethodGet:
			writeJSON(w, http.StatusOK, s.list(id.OrganizationID))
		case http.MethodPost:
			// Any organizationId in the body is ignored: the session decides.
			var body struct {
				Name string `json:"name"`
			}
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body); err != nil || body.Name == "" {
				writeJSON(w, http.StatusBadRequest, map[string]string{"code": "VALIDATION_ERROR", "message": "name is required"})
				return
			}
			writeJSON(w, http.StatusOK, s.create(id.OrganizationID, body.Name, id.UserID))
		default:
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"code": "METHOD_NOT_ALLOWED", "message": r.Method})
		}
	})
}

// Me answers the caller's identity.
func Me(w http.ResponseWriter, r *http.Request) {
	id, _ := bridge.FromContext(r.Context())
	writeJSON(w, http.StatusOK, map[string]string{"id": id.UserID, "email": id.Email, "organizationId": id.OrganizationID})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
