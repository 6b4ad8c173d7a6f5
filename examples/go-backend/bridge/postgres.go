package bridge

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// PostgresSessions validates the cookie against the session table that Castellan writes (the
// shared Postgres), and extends sessions as Castellan does: once UpdateAge has passed since the
// last extension, the expiry moves to now + ExpiresIn and the cookie is sent again.
type PostgresSessions struct {
	DB        *sql.DB
	Secret    string // Castellan's BETTER_AUTH_SECRET (CASTELLAN_SECRET)
	ExpiresIn time.Duration
	UpdateAge time.Duration
	Secure    bool // https deployment: the cookie is __Secure- and Secure
	Now       func() time.Time
}

// NewPostgresSessions uses Better Auth's defaults: sessions live 7 days, extended daily.
func NewPostgresSessions(db *sql.DB, secret string) *PostgresSessions {
	return &PostgresSessions{DB: db, Secret: secret, ExpiresIn: 7 * 24 * time.Hour, UpdateAge: 24 * time.Hour, Now: time.Now}
}

const sessionQuery = `SELECT s."userId", s."expiresAt", COALESCE(s."activeOrganizationId", ''), u."email", u."name", COALESCE(u."banned", false)
FROM "session" s JOIN "user" u ON u."id" = s."userId" WHERE s."token" = $1`

func (p *PostgresSessions) Validate(r *http.Request) (Identity, []string, error) {
	raw, ok := SessionCookie(r)
	if !ok {
		return Identity{}, nil, ErrNoSession
	}
	token, ok := VerifyCookie(p.Secret, raw)
	if !ok {
		return Identity{}, nil, ErrNoSession
	}
	id := Identity{Token: token}
	var banned bool
	err := p.DB.QueryRowContext(r.Context(), sessionQuery, token).
		Scan(&id.UserID, &id.ExpiresAt, &id.OrganizationID, &id.Email, &id.Name, &banned)
	if errors.Is(err, sql.ErrNoRows) {
		return Identity{}, nil, ErrNoSession
	}
	if err != nil {
		return Identity{}, nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	now := p.Now()
	if !id.ExpiresAt.After(now) || banned {
		return Identity{}, nil, ErrNoSession
	}
	// Better Auth's rule: due once expiresAt - expiresIn + updateAge has passed.
	if !id.ExpiresAt.Add(-p.ExpiresIn).Add(p.UpdateAge).After(now) {
		expires := now.Add(p.ExpiresIn)
		if _, err := p.DB.ExecContext(r.Context(),
			`UPDATE "session" SET "expiresAt" = $1, "updatedAt" = $2 WHERE "token" = $3`, expires, now, token); err != nil {
			return Identity{}, nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		id.ExpiresAt = expires
		return id, []string{p.cookie(token)}, nil
	}
	return id, nil, nil
}

func (p *PostgresSessions) cookie(token string) string {
	name, attrs := CookieNames[1], "; Path=/; HttpOnly; SameSite=Lax"
	if p.Secure {
		name, attrs = CookieNames[0], attrs+"; Secure"
	}
	return fmt.Sprintf("%s=%s; Max-Age=%d%s", name, SignCookie(p.Secret, token), int(p.ExpiresIn.Seconds()), attrs)
}
