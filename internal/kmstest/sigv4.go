package kmstest

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Signature Version 4 verification, for the one credential pair and region
// a Server knows. Only the Authorization-header form with X-Amz-Date is
// accepted (no presigned query strings, no session tokens, no chunked
// payload signing), which is what the SDK's KMS client sends.

const (
	sigAlgorithm  = "AWS4-HMAC-SHA256"
	sigService    = "kms"
	sigTerminator = "aws4_request"
	amzDateLayout = "20060102T150405Z"
	maxClockSkew  = 15 * time.Minute
)

// sigAuth is the parsed Authorization header.
type sigAuth struct {
	accessKeyID   string
	date          string // yyyymmdd from the credential scope
	region        string
	service       string
	terminator    string
	signedHeaders []string // as listed, lower case
	signature     string
}

func (a *sigAuth) scope() string {
	return a.date + "/" + a.region + "/" + a.service + "/" + a.terminator
}

func incomplete(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "IncompleteSignatureException", format, args...)
}

func invalidSig(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "InvalidSignatureException", format, args...)
}

// parseAuthorization splits an Authorization header of the form
//
//	AWS4-HMAC-SHA256 Credential=AKID/20240102/region/kms/aws4_request, SignedHeaders=a;b, Signature=hex
func parseAuthorization(h string) (*sigAuth, *apiError) {
	alg, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if alg != sigAlgorithm {
		return nil, incomplete("unsupported signing algorithm %q: only %s is accepted", alg, sigAlgorithm)
	}
	params := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		params[name] = value
	}
	var missing []string
	for _, name := range []string{"Credential", "SignedHeaders", "Signature"} {
		if params[name] == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, incomplete("Authorization header requires %s", strings.Join(missing, ", "))
	}
	cred := strings.Split(params["Credential"], "/")
	if len(cred) != 5 || cred[0] == "" {
		return nil, incomplete("Credential must have the form <access key id>/<date>/<region>/<service>/aws4_request")
	}
	a := &sigAuth{
		accessKeyID:   cred[0],
		date:          cred[1],
		region:        cred[2],
		service:       cred[3],
		terminator:    cred[4],
		signedHeaders: strings.Split(params["SignedHeaders"], ";"),
		signature:     params["Signature"],
	}
	return a, nil
}

// verifySignature checks r's SigV4 signature over body against the server's
// credentials and region at time now. It returns nil if the request is
// correctly signed.
func (s *Server) verifySignature(r *http.Request, body []byte, now time.Time) *apiError {
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return errorf(http.StatusBadRequest, "MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	a, e := parseAuthorization(authz)
	if e != nil {
		return e
	}
	if a.accessKeyID != s.opts.AccessKeyID {
		return errorf(http.StatusBadRequest, "UnrecognizedClientException", "The security token included in the request is invalid.")
	}

	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		return incomplete("the request must carry an X-Amz-Date header")
	}
	signedAt, err := time.Parse(amzDateLayout, amzDate)
	if err != nil {
		return incomplete("X-Amz-Date %q is not of the form %s", amzDate, amzDateLayout)
	}
	if a.date != amzDate[:8] {
		return invalidSig("credential scope date %s does not match X-Amz-Date %s", a.date, amzDate)
	}
	if a.region != s.opts.Region {
		return invalidSig("Credential should be scoped to a valid region, not %q; this endpoint serves %q", a.region, s.opts.Region)
	}
	if a.service != sigService {
		return invalidSig("Credential should be scoped to correct service: %q", sigService)
	}
	if a.terminator != sigTerminator {
		return invalidSig("Credential should be scoped with a valid terminator: %q", sigTerminator)
	}
	if skew := now.Sub(signedAt); skew > maxClockSkew || skew < -maxClockSkew {
		return invalidSig("Signature expired or not yet valid: signed at %s, server time %s", amzDate, now.UTC().Format(amzDateLayout))
	}
	hostSigned := false
	for _, name := range a.signedHeaders {
		if name == "host" {
			hostSigned = true
		}
	}
	if !hostSigned {
		return incomplete("'Host' must be a 'SignedHeader' in the AWS Authorization")
	}

	payloadHash := hexSHA256(body)
	if claimed := r.Header.Get("X-Amz-Content-Sha256"); claimed != "" && claimed != payloadHash {
		return invalidSig("the X-Amz-Content-Sha256 header does not match the SHA-256 of the body")
	}

	creq := canonicalRequest(r, a.signedHeaders, payloadHash)
	stringToSign := sigAlgorithm + "\n" + amzDate + "\n" + a.scope() + "\n" + hexSHA256([]byte(creq))
	key := signingKey(s.opts.SecretAccessKey, a.date, a.region, a.service)
	want := hex.EncodeToString(hmacSHA256(key, []byte(stringToSign)))
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(a.signature))) != 1 {
		return invalidSig("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
	}
	return nil
}

// canonicalRequest builds the SigV4 canonical request of r for the listed
// signed headers and the hex payload hash.
func canonicalRequest(r *http.Request, signedHeaders []string, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r.URL))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL))
	b.WriteByte('\n')
	for _, name := range signedHeaders {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(canonicalHeaderValue(r, name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// canonicalURI is the URI-encoded form of the already escaped request path,
// that is the path encoded twice, as SigV4 asks of every service but S3.
func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	return uriEncode(p, false)
}

// canonicalQuery sorts the query parameters by name and then value, each
// URI-encoded.
func canonicalQuery(u *url.URL) string {
	if u.RawQuery == "" {
		return ""
	}
	values, _ := url.ParseQuery(u.RawQuery)
	var pairs []string
	for name, vs := range values {
		for _, v := range vs {
			pairs = append(pairs, uriEncode(name, true)+"="+uriEncode(v, true))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// canonicalHeaderValue joins the values of header name (lower case) with
// commas, each trimmed and with runs of spaces folded to one.
func canonicalHeaderValue(r *http.Request, name string) string {
	var values []string
	switch name {
	case "host":
		values = []string{r.Host}
	default:
		values = r.Header.Values(name)
		if len(values) == 0 && name == "content-length" && r.ContentLength >= 0 {
			values = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	}
	folded := make([]string, len(values))
	for i, v := range values {
		folded[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(folded, ",")
}

// uriEncode percent-encodes every byte but the unreserved characters
// A-Z a-z 0-9 - _ . ~ and, unless encodeSlash, '/'; hex digits are upper
// case.
func uriEncode(s string, encodeSlash bool) string {
	const hexUpper = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~', c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexUpper[c>>4])
			b.WriteByte(hexUpper[c&15])
		}
	}
	return b.String()
}

// signingKey derives the SigV4 signing key for a date, region and service.
func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), []byte(date))
	k = hmacSHA256(k, []byte(region))
	k = hmacSHA256(k, []byte(service))
	return hmacSHA256(k, []byte(sigTerminator))
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

func hexSHA256(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
