package kmstest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// These tests send hand-built requests, signed by the SDK's own signer (an
// implementation independent of the server's verifier) and then altered, to
// reach the corners of the SigV4 check that a well-behaved client never
// does.

type rawRequest struct {
	path        string            // default "/"
	target      string            // default "TrentService.GenerateDataKey"
	contentType string            // default the JSON 1.1 type
	body        string            // default a GenerateDataKey request
	headers     map[string]string // set before signing
	service     string            // default "kms"
	signedAt    time.Time         // default now
	unsigned    bool              // send no Authorization header
	after       func(r *http.Request)
}

func (rr rawRequest) build(t *testing.T, s *Server, keyID string) *http.Request {
	t.Helper()
	path := rr.path
	if path == "" {
		path = "/"
	}
	body := rr.body
	if body == "" {
		body = `{"KeyId":"` + keyID + `","KeySpec":"AES_256"}`
	}
	req, err := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	target := rr.target
	if target == "" {
		target = "TrentService.GenerateDataKey"
	}
	ct := rr.contentType
	if ct == "" {
		ct = jsonType
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("X-Amz-Target", target)
	for k, v := range rr.headers {
		req.Header.Set(k, v)
	}
	if !rr.unsigned {
		service := rr.service
		if service == "" {
			service = "kms"
		}
		at := rr.signedAt
		if at.IsZero() {
			at = time.Now()
		}
		sum := sha256.Sum256([]byte(body))
		creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, testRegion, at); err != nil {
			t.Fatal(err)
		}
	}
	if rr.after != nil {
		rr.after(req)
	}
	return req
}

func editAuthorization(re, repl string) func(*http.Request) {
	return func(r *http.Request) {
		r.Header.Set("Authorization", regexp.MustCompile(re).ReplaceAllString(r.Header.Get("Authorization"), repl))
	}
}

func TestRawRequests(t *testing.T) {
	s := newTestServer(t)
	keyID := s.CreateKey()
	otherHash := hex.EncodeToString(make([]byte, 32))
	bodyHash := func(body string) string {
		sum := sha256.Sum256([]byte(body))
		return hex.EncodeToString(sum[:])
	}

	tests := []struct {
		name    string
		req     rawRequest
		status  int
		code    string // "" for success
		sigFail bool
	}{
		{name: "correctly signed", req: rawRequest{}, status: 200},
		{name: "query string and folded header values", req: rawRequest{
			path:    "/?b=2&a=1&a=0&sp=x%20y&slash=%2F",
			headers: map[string]string{"X-Kmstest-Note": "a   b    c", "X-Kmstest-Empty": ""},
		}, status: 200},
		{name: "unsigned header added after signing", req: rawRequest{
			after: func(r *http.Request) { r.Header.Set("X-Kmstest-Unsigned", "anything") },
		}, status: 200},
		{name: "X-Amz-Content-Sha256 signed and matching", req: rawRequest{
			headers: map[string]string{"X-Amz-Content-Sha256": bodyHash(`{"KeyId":"` + keyID + `","KeySpec":"AES_256"}`)},
		}, status: 200},

		{name: "no Authorization header", req: rawRequest{unsigned: true},
			status: 400, code: "MissingAuthenticationTokenException", sigFail: true},
		{name: "Authorization without Signature", req: rawRequest{after: editAuthorization(`, Signature=[0-9a-f]+`, "")},
			status: 400, code: "IncompleteSignatureException", sigFail: true},
		{name: "Authorization without SignedHeaders", req: rawRequest{after: editAuthorization(`SignedHeaders=[^,]+, `, "")},
			status: 400, code: "IncompleteSignatureException", sigFail: true},
		{name: "Credential scope too short", req: rawRequest{after: editAuthorization(`/aws4_request`, "")},
			status: 400, code: "IncompleteSignatureException", sigFail: true},
		{name: "another signing algorithm", req: rawRequest{after: editAuthorization(`^AWS4-HMAC-SHA256`, "AWS4-ECDSA-P256-SHA256")},
			status: 400, code: "IncompleteSignatureException", sigFail: true},
		{name: "host not signed", req: rawRequest{after: editAuthorization(`;host`, "")},
			status: 400, code: "IncompleteSignatureException", sigFail: true},
		{name: "no X-Amz-Date", req: rawRequest{after: func(r *http.Request) { r.Header.Del("X-Amz-Date") }},
			status: 400, code: "IncompleteSignatureException", sigFail: true},
		{name: "unknown access key id", req: rawRequest{after: editAuthorization(testAKID, "AKIDSOMEONEELSE00001")},
			status: 400, code: "UnrecognizedClientException", sigFail: true},
		{name: "signed for another service", req: rawRequest{service: "sts"},
			status: 400, code: "InvalidSignatureException", sigFail: true},
		{name: "signed an hour ago", req: rawRequest{signedAt: time.Now().Add(-time.Hour)},
			status: 400, code: "InvalidSignatureException", sigFail: true},
		{name: "X-Amz-Date changed after signing", req: rawRequest{after: func(r *http.Request) {
			at, _ := time.Parse(amzDateLayout, r.Header.Get("X-Amz-Date"))
			r.Header.Set("X-Amz-Date", at.Add(time.Second).Format(amzDateLayout))
		}}, status: 400, code: "InvalidSignatureException", sigFail: true},
		{name: "signed header changed after signing", req: rawRequest{
			headers: map[string]string{"X-Kmstest-Note": "before"},
			after:   func(r *http.Request) { r.Header.Set("X-Kmstest-Note", "after") },
		}, status: 400, code: "InvalidSignatureException", sigFail: true},
		{name: "signature altered", req: rawRequest{after: editAuthorization(`Signature=.`, "Signature=z")},
			status: 400, code: "InvalidSignatureException", sigFail: true},
		{name: "X-Amz-Content-Sha256 not the body's", req: rawRequest{after: func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", otherHash) }},
			status: 400, code: "InvalidSignatureException", sigFail: true},

		{name: "unknown operation", req: rawRequest{target: "TrentService.ListKeys"},
			status: 400, code: "UnknownOperationException"},
		{name: "target of another service", req: rawRequest{target: "DynamoDB_20120810.GetItem"},
			status: 400, code: "UnknownOperationException"},
		{name: "path other than /", req: rawRequest{path: "/some%2Fpath/x y"},
			status: 404, code: "UnknownOperationException"},
		{name: "wrong content type", req: rawRequest{contentType: "application/json"},
			status: 400, code: "SerializationException"},
		{name: "malformed JSON", req: rawRequest{body: `{"KeyId":`},
			status: 400, code: "SerializationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			failures := s.SignatureFailures()
			resp, err := http.DefaultClient.Do(tt.req.build(t, s, keyID))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d; body %s", resp.StatusCode, tt.status, body)
			}
			if got := resp.Header.Get("Content-Type"); got != jsonType {
				t.Errorf("Content-Type %q", got)
			}
			var payload struct {
				Type      string `json:"__type"`
				Message   string `json:"message"`
				Plaintext []byte
			}
			if err := json.Unmarshal(body, &payload); err != nil {
				t.Fatalf("response body %q: %v", body, err)
			}
			if got := resp.Header.Get("X-Amzn-ErrorType"); got != tt.code {
				t.Errorf("X-Amzn-ErrorType %q, want %q", got, tt.code)
			}
			if payload.Type != tt.code {
				t.Errorf("__type %q, want %q", payload.Type, tt.code)
			}
			if tt.code != "" && payload.Message == "" {
				t.Error("error without a message")
			}
			if tt.code == "" && len(payload.Plaintext) != 32 {
				t.Errorf("success with a %d-byte data key", len(payload.Plaintext))
			}
			want := 0
			if tt.sigFail {
				want = 1
			}
			if got := s.SignatureFailures() - failures; got != want {
				t.Errorf("SignatureFailures grew by %d, want %d", got, want)
			}
		})
	}
}

func TestCanonicalHelpers(t *testing.T) {
	if got, want := uriEncode("a-b_c.d~e/f g+h%", true), "a-b_c.d~e%2Ff%20g%2Bh%25"; got != want {
		t.Errorf("uriEncode(encodeSlash) = %q, want %q", got, want)
	}
	if got, want := uriEncode("/a b/c", false), "/a%20b/c"; got != want {
		t.Errorf("uriEncode = %q, want %q", got, want)
	}
	// Nil and empty contexts are one context; the order of insertion and of
	// iteration does not matter; names and values cannot run into each
	// other.
	if string(appendContext(nil, nil)) != string(appendContext(nil, map[string]string{})) {
		t.Error("nil and empty contexts differ")
	}
	if string(appendContext(nil, map[string]string{"ab": "c"})) == string(appendContext(nil, map[string]string{"a": "bc"})) {
		t.Error("contexts {ab:c} and {a:bc} collide")
	}
	m := map[string]string{}
	for i := range 20 {
		m[string(rune('a'+i))] = strings.Repeat("v", i)
	}
	first := string(appendContext(nil, m))
	for range 10 {
		if string(appendContext(nil, m)) != first {
			t.Fatal("canonical context depends on map iteration order")
		}
	}
}
