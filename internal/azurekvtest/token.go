package azurekvtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// openIDConfiguration answers a tenant's OpenID configuration, which the
// SDK reads to find the token endpoint.
func (s *Server) openIDConfiguration(w http.ResponseWriter, tenant string) {
	base := s.URL + "/" + tenant
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"issuer":                                base + "/v2.0",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt"},
		"response_types_supported":              []string{"code", "id_token", "token"},
	})
}

// tokenError answers an Entra ID error, as the token endpoint does.
func tokenError(w http.ResponseWriter, status int, code, aadsts, description string) {
	writeJSON(w, status, map[string]any{
		"error":             code,
		"error_description": aadsts + ": " + description,
		"error_codes":       []int{0},
		"timestamp":         time.Now().UTC().Format(time.DateTime),
	})
}

// token serves the client credentials grant.
func (s *Server) token(w http.ResponseWriter, r *http.Request, tenant string) {
	if f, ok := s.takeFault(&s.tokenFault); ok {
		if f.status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "0")
		}
		tokenError(w, f.status, "temporarily_unavailable", "AADSTS90033", "A transient error has occurred. Please try again.")
		return
	}
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144", "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	switch {
	case tenant != s.opts.TenantID:
		tokenError(w, http.StatusBadRequest, "invalid_request", "AADSTS90002", fmt.Sprintf("Tenant '%s' not found.", tenant))
		return
	case r.PostForm.Get("grant_type") != "client_credentials":
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "AADSTS70003", "The app requested an unsupported grant type.")
		return
	case r.PostForm.Get("client_id") != s.opts.ClientID:
		tokenError(w, http.StatusBadRequest, "unauthorized_client", "AADSTS700016", "Application with identifier was not found in the directory.")
		return
	}
	tokenURL := s.URL + r.URL.Path
	if secret := r.PostForm.Get("client_secret"); secret != "" {
		if s.opts.ClientSecret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) != 1 {
			tokenError(w, http.StatusUnauthorized, "invalid_client", "AADSTS7000215", "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.")
			return
		}
	} else if err := s.checkAssertion(r.PostForm.Get("client_assertion_type"), r.PostForm.Get("client_assertion"), tokenURL); err != nil {
		tokenError(w, http.StatusUnauthorized, "invalid_client", "AADSTS700027", "Client assertion failed signature validation: "+err.Error())
		return
	}
	tok := make([]byte, 24)
	_, _ = rand.Read(tok)
	access := "fake-token-" + hex.EncodeToString(tok)
	s.mu.Lock()
	s.tokens[access] = true
	s.last = access
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": access})
}

// checkAssertion checks a client assertion: a JWT for the token endpoint,
// issued by and about the client, signed (RS256 or PS256) by the key of
// the client certificate.
func (s *Server) checkAssertion(typ, assertion, tokenURL string) error {
	if typ != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || assertion == "" {
		return errors.New("no client secret and no client assertion")
	}
	cert := s.opts.ClientCert
	if cert == nil {
		return errors.New("no certificate is registered")
	}
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return errors.New("not a JWT")
	}
	var header struct {
		Alg     string `json:"alg"`
		X5t     string `json:"x5t"`
		X5tS256 string `json:"x5t#S256"`
	}
	var claims struct {
		Aud string `json:"aud"`
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Exp int64  `json:"exp"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return err
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return err
	}
	// The thumbprints as MSAL writes them (standard base64) or as RFC 7515
	// does (base64url).
	sha1sum, sha256sum := sha1.Sum(cert.Raw), sha256.Sum256(cert.Raw)
	matches := func(got string, sum []byte) bool {
		return got != "" && (got == base64.StdEncoding.EncodeToString(sum) || got == base64.RawURLEncoding.EncodeToString(sum))
	}
	if !matches(header.X5t, sha1sum[:]) && !matches(header.X5tS256, sha256sum[:]) {
		return errors.New("the assertion names another certificate")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return errors.New("bad signature encoding")
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return errors.New("the certificate's key is not RSA")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch header.Alg {
	case "RS256":
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
	case "PS256":
		err = rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, nil)
	default:
		err = fmt.Errorf("unsupported alg %q", header.Alg)
	}
	if err != nil {
		return errors.New("bad signature")
	}
	switch {
	case claims.Aud != tokenURL:
		return fmt.Errorf("audience %q is not the token endpoint", claims.Aud)
	case claims.Iss != s.opts.ClientID || claims.Sub != s.opts.ClientID:
		return errors.New("issuer or subject is not the client")
	case time.Unix(claims.Exp, 0).Before(time.Now()):
		return errors.New("expired")
	}
	return nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return errors.New("bad JWT segment encoding")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return errors.New("bad JWT segment")
	}
	return nil
}
