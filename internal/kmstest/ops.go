package kmstest

import (
	"bytes"
	"encoding/json"
	"net/http"
)

const symmetricDefault = "SYMMETRIC_DEFAULT"

// Request and response members, named as in the KMS API. Blobs are []byte,
// which encoding/json carries as standard base64, as the protocol does.

type encryptInput struct {
	KeyID               string            `json:"KeyId"`
	Plaintext           []byte            `json:"Plaintext"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	EncryptionAlgorithm string            `json:"EncryptionAlgorithm"`
	DryRun              bool              `json:"DryRun"`
}

type encryptOutput struct {
	CiphertextBlob      []byte `json:"CiphertextBlob"`
	KeyID               string `json:"KeyId"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
}

type decryptInput struct {
	CiphertextBlob      []byte            `json:"CiphertextBlob"`
	KeyID               string            `json:"KeyId"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	EncryptionAlgorithm string            `json:"EncryptionAlgorithm"`
	DryRun              bool              `json:"DryRun"`
	Recipient           json.RawMessage   `json:"Recipient"`
}

type decryptOutput struct {
	Plaintext           []byte `json:"Plaintext"`
	KeyID               string `json:"KeyId"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
	KeyMaterialID       string `json:"KeyMaterialId,omitempty"`
}

type generateDataKeyInput struct {
	KeyID             string            `json:"KeyId"`
	KeySpec           string            `json:"KeySpec"`
	NumberOfBytes     *int              `json:"NumberOfBytes"`
	EncryptionContext map[string]string `json:"EncryptionContext"`
	DryRun            bool              `json:"DryRun"`
	Recipient         json.RawMessage   `json:"Recipient"`
}

type generateDataKeyOutput struct {
	CiphertextBlob []byte `json:"CiphertextBlob"`
	Plaintext      []byte `json:"Plaintext"`
	KeyID          string `json:"KeyId"`
	KeyMaterialID  string `json:"KeyMaterialId,omitempty"`
}

func decodeInput(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errorf(http.StatusBadRequest, "SerializationException", "cannot decode the request: %v", err)
	}
	return nil
}

func checkAlgorithm(alg string) *apiError {
	if alg != "" && alg != symmetricDefault {
		return errorf(http.StatusBadRequest, "InvalidKeyUsageException", "algorithm %s is not valid for a symmetric encryption key", alg)
	}
	return nil
}

func checkRecipient(r json.RawMessage) *apiError {
	if len(r) != 0 && !bytes.Equal(bytes.TrimSpace(r), []byte("null")) {
		return errorf(http.StatusBadRequest, "UnsupportedOperationException", "kmstest does not support Recipient (attested enclaves)")
	}
	return nil
}

func dryRun() *apiError {
	return errorf(http.StatusPreconditionFailed, "DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
}

func (s *Server) encrypt(body []byte) (any, *apiError) {
	var in encryptInput
	if e := decodeInput(body, &in); e != nil {
		return nil, e
	}
	k, e := s.resolveKey(in.KeyID)
	if e != nil {
		return nil, e
	}
	if n := len(in.Plaintext); n < 1 || n > 4096 {
		return nil, errorf(http.StatusBadRequest, "ValidationException", "Plaintext must be 1 to 4096 bytes long, not %d", n)
	}
	if e := checkAlgorithm(in.EncryptionAlgorithm); e != nil {
		return nil, e
	}
	if in.DryRun {
		return nil, dryRun()
	}
	return encryptOutput{
		CiphertextBlob:      k.seal(in.Plaintext, in.EncryptionContext),
		KeyID:               s.ARN(k.id),
		EncryptionAlgorithm: symmetricDefault,
	}, nil
}

func (s *Server) decrypt(body []byte) (any, *apiError) {
	var in decryptInput
	if e := decodeInput(body, &in); e != nil {
		return nil, e
	}
	if len(in.CiphertextBlob) == 0 {
		return nil, errorf(http.StatusBadRequest, "ValidationException", "CiphertextBlob is required")
	}
	if e := checkAlgorithm(in.EncryptionAlgorithm); e != nil {
		return nil, e
	}
	if e := checkRecipient(in.Recipient); e != nil {
		return nil, e
	}
	var named *key
	if in.KeyID != "" {
		k, e := s.resolveKey(in.KeyID)
		if e != nil {
			return nil, e
		}
		named = k
	}
	invalid := errorf(http.StatusBadRequest, "InvalidCiphertextException", "the ciphertext is invalid, was altered, or does not match the encryption context")
	id, err := blobKeyID(in.CiphertextBlob)
	if err != nil {
		return nil, invalid
	}
	if named != nil && named.id != id {
		return nil, errorf(http.StatusBadRequest, "IncorrectKeyException", "the ciphertext was not encrypted under the KMS key %s", s.ARN(named.id))
	}
	k, e := s.lookupKey(id)
	if e != nil {
		return nil, e
	}
	if k == nil {
		return nil, invalid
	}
	plaintext, err := k.open(in.CiphertextBlob, in.EncryptionContext)
	if err != nil {
		return nil, invalid
	}
	if in.DryRun {
		return nil, dryRun()
	}
	return decryptOutput{
		Plaintext:           plaintext,
		KeyID:               s.ARN(k.id),
		EncryptionAlgorithm: symmetricDefault,
		KeyMaterialID:       k.materialID,
	}, nil
}

func (s *Server) generateDataKey(body []byte) (any, *apiError) {
	var in generateDataKeyInput
	if e := decodeInput(body, &in); e != nil {
		return nil, e
	}
	k, e := s.resolveKey(in.KeyID)
	if e != nil {
		return nil, e
	}
	if e := checkRecipient(in.Recipient); e != nil {
		return nil, e
	}
	var n int
	switch {
	case in.KeySpec != "" && in.NumberOfBytes != nil:
		return nil, errorf(http.StatusBadRequest, "ValidationException", "specify either KeySpec or NumberOfBytes, not both")
	case in.KeySpec == "AES_256":
		n = 32
	case in.KeySpec == "AES_128":
		n = 16
	case in.KeySpec != "":
		return nil, errorf(http.StatusBadRequest, "ValidationException", "KeySpec must be AES_256 or AES_128, not %q", in.KeySpec)
	case in.NumberOfBytes == nil:
		return nil, errorf(http.StatusBadRequest, "ValidationException", "specify KeySpec or NumberOfBytes")
	case *in.NumberOfBytes < 1 || *in.NumberOfBytes > 1024:
		return nil, errorf(http.StatusBadRequest, "ValidationException", "NumberOfBytes must be 1 to 1024, not %d", *in.NumberOfBytes)
	default:
		n = *in.NumberOfBytes
	}
	if in.DryRun {
		return nil, dryRun()
	}
	plaintext := make([]byte, n)
	randRead(plaintext)
	return generateDataKeyOutput{
		CiphertextBlob: k.seal(plaintext, in.EncryptionContext),
		Plaintext:      plaintext,
		KeyID:          s.ARN(k.id),
		KeyMaterialID:  k.materialID,
	}, nil
}
