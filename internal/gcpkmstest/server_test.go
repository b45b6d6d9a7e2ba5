package gcpkmstest

import (
	"context"
	"testing"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The fake checks the request's CRC32C fields as Cloud KMS does, says
// which it verified, and only the key that encrypted a ciphertext, with
// the same AAD, decrypts it.
func TestChecksumsAndKeys(t *testing.T) {
	srv := New()
	defer srv.Close()
	ctx := context.Background()
	client, err := kms.NewKeyManagementClient(ctx, srv.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	a, b := srv.CreateKey("a"), srv.CreateKey("b")
	pt, aad := []byte("data key"), []byte("label")

	_, err = client.Encrypt(ctx, &kmspb.EncryptRequest{Name: a, Plaintext: pt, PlaintextCrc32C: wrapperspb.Int64(crc(pt) ^ 1)})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a wrong plaintext_crc32c: %v", err)
	}
	resp, err := client.Encrypt(ctx, &kmspb.EncryptRequest{Name: a, Plaintext: pt, PlaintextCrc32C: wrapperspb.Int64(crc(pt)), AdditionalAuthenticatedData: aad})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.GetVerifiedPlaintextCrc32C() || resp.GetVerifiedAdditionalAuthenticatedDataCrc32C() || resp.GetCiphertextCrc32C().GetValue() != crc(resp.GetCiphertext()) {
		t.Fatalf("verified plaintext %v, aad %v (none was sent), ciphertext checksum right %v", resp.GetVerifiedPlaintextCrc32C(),
			resp.GetVerifiedAdditionalAuthenticatedDataCrc32C(), resp.GetCiphertextCrc32C().GetValue() == crc(resp.GetCiphertext()))
	}
	ct := resp.GetCiphertext()
	_, err = client.Decrypt(ctx, &kmspb.DecryptRequest{Name: a, Ciphertext: ct, CiphertextCrc32C: wrapperspb.Int64(crc(ct) ^ 1), AdditionalAuthenticatedData: aad})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a wrong ciphertext_crc32c: %v", err)
	}
	for _, tt := range []struct {
		name string
		key  string
		aad  []byte
		code codes.Code
	}{
		{"the right key", a, aad, codes.OK},
		{"another key", b, aad, codes.InvalidArgument},
		{"another AAD", a, []byte("other"), codes.InvalidArgument},
		{"an unknown key", KeyName("c"), aad, codes.NotFound},
		{"not a key name", "projects/p", aad, codes.InvalidArgument},
	} {
		out, err := client.Decrypt(ctx, &kmspb.DecryptRequest{Name: tt.key, Ciphertext: ct, AdditionalAuthenticatedData: tt.aad})
		if status.Code(err) != tt.code {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.code)
		}
		if err == nil && (string(out.GetPlaintext()) != string(pt) || out.GetPlaintextCrc32C().GetValue() != crc(pt)) {
			t.Errorf("%s: decrypted %q", tt.name, out.GetPlaintext())
		}
	}
}
