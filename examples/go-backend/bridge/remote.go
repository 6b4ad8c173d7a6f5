package bridge

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// RemoteSessions asks Castellan's get-session for every request (no cache: a revoked session is
// refused at once). Castellan extends the session itself; its Set-Cookie is passed on.
type RemoteSessions struct {
	AuthURL string // e.g. https://auth.example.com/api/auth
	Client  *http.Client
}

// NewRemoteSessions asks the auth API at authURL.
func NewRemoteSessions(authURL string) *RemoteSessions {
	return &RemoteSessions{AuthURL: authURL, Client: &http.Client{Timeout: 5 * time.Second}}
}

type getSession struct {
	Session struct {
		Token                string    `json:"token"`
		ExpiresAt            time.Time `json:"expiresAt"`
		ActiveOrganizationID *string   `json:"activeOrganizationId"`
	} `json:"session"`
	User struct {
		ID    string `json:"id"`
		Email string `json:"email"`
		Name  string `json:"name"`
	} `json:"user"`
}

func (s *RemoteSessions) Validate(r *http.Request) (Identity, []string, error) {
	if _, ok := SessionCookie(r); !ok {
		return Identity{}, nil, ErrNoSession
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, s.AuthURL+"/get-session?disableCookieCache=true", nil)
	if err != nil {
		return Identity{}, nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	for _, c := range r.Cookies() {
		req.AddCookie(c)
	}
	res, err := s.Client.Do(req)
	if err != nil {
		return Identity{}, nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests {
		return Identity{}, nil, fmt.Errorf("%w: get-session answered %d", ErrUnavailable, res.StatusCode)
	}
	if res.StatusCode != http.StatusOK {
		return Identity{}, nil, ErrNoSession
	}
	var answer *getSession
	if err := json.NewDecoder(res.Body).Decode(&answer); err != nil {
		return Identity{}, nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if answer == nil || answer.User.ID == "" {
		return Identity{}, res.Header.Values("Set-Cookie"), ErrNoSession
	}
	id := Identity{
		UserID:    answer.User.ID,
		Email:     answer.User.Email,
		Name:      answer.User.Name,
		Token:     answer.Session.Token,
		ExpiresAt: answer.Session.ExpiresAt,
	}
	if answer.Session.ActiveOrganizationID != nil {
		id.OrganizationID = *answer.Session.ActiveOrganizationID
	}
	return id, res.Header.Values("Set-Cookie"), nil
}
