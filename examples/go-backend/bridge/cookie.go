package bridge

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
)

// CookieNames are the session cookie's names: plain on http, __Secure- on https deployments.
var CookieNames = []string{"__Secure-better-auth.session_token", "better-auth.session_token"}

// SessionCookie returns the raw (still signed) session cookie value of r.
func SessionCookie(r *http.Request) (string, bool) {
	for _, name := range CookieNames {
		if c, err := r.Cookie(name); err == nil && c.Value != "" {
			return c.Value, true
		}
	}
	return "", false
}

// VerifyCookie checks Better Auth's cookie signature, "token.base64(HMAC-SHA256(secret, token))",
// and returns the session token.
func VerifyCookie(secret, value string) (string, bool) {
	decoded, err := url.QueryUnescape(value)
	if err != nil {
		return "", false
	}
	dot := strings.LastIndex(decoded, ".")
	if dot <= 0 {
		return "", false
	}
	token, signature := decoded[:dot], decoded[dot+1:]
	if len(signature) != 44 || !strings.HasSuffix(signature, "=") {
		return "", false
	}
	given, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return "", false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(token))
	if !hmac.Equal(given, mac.Sum(nil)) {
		return "", false
	}
	return token, true
}

// SignCookie is VerifyCookie's inverse: the cookie value for token (URL-encoded as Better Auth
// writes it).
func SignCookie(secret, token string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(token))
	return url.QueryEscape(token + "." + base64.StdEncoding.EncodeToString(mac.Sum(nil)))
}
