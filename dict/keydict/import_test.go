package keydict

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/atrest/atrest/ctr"
)

func TestImportAdd(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	d := New()
	own, err := d.NewKey(ctr.AES256CTR, now)
	if err != nil {
		t.Fatal(err)
	}
	sm4 := bytes.Repeat([]byte{0x44}, 16)
	aes := bytes.Repeat([]byte{0x55}, 32)
	tests := []struct {
		name    string
		id      uint64
		method  ctr.Method
		key     []byte
		keepID  bool
		wantErr bool
	}{
		{name: "free id kept", id: 7, method: ctr.SM4CTR, key: sm4, keepID: true},
		{name: "taken id remapped", id: own.ID, method: ctr.AES256CTR, key: aes},
		{name: "zero id gets one", id: 0, method: ctr.AES128CTR, key: sm4},
		{name: "plaintext refused", id: 9, method: ctr.Plaintext, key: nil, wantErr: true},
		{name: "invalid method refused", id: 9, method: ctr.Method(0), key: sm4, wantErr: true},
		{name: "wrong length refused", id: 9, method: ctr.AES192CTR, key: aes, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := d.Len()
			created := now.Add(-time.Hour).Add(300 * time.Millisecond).In(time.FixedZone("x", 3600))
			k, err := d.Add(tc.id, tc.method, created, true, tc.key)
			if tc.wantErr {
				if err == nil || d.Len() != before {
					t.Fatalf("Add = %v, %d keys (had %d); want an error and nothing added", err, d.Len(), before)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case k.ID == 0:
				t.Fatal("id 0")
			case tc.keepID && k.ID != tc.id:
				t.Fatalf("id %d, want %d kept", k.ID, tc.id)
			case !tc.keepID && tc.id != 0 && k.ID == tc.id:
				t.Fatalf("id %d was taken but kept", k.ID)
			case d.Len() != before+1:
				t.Fatalf("%d keys, want %d", d.Len(), before+1)
			case d.Current != own.ID:
				t.Fatalf("current changed to %d", d.Current)
			case !bytes.Equal(k.Bytes(), tc.key), k.Method != tc.method, !k.Exposed:
				t.Fatalf("key %+v", k)
			case !k.Created.Equal(now.Add(-time.Hour)) || k.Created.Location() != time.UTC:
				t.Fatalf("created %v, want %v in UTC", k.Created, now.Add(-time.Hour))
			}
			if got, ok := d.Get(k.ID); !ok || got != k {
				t.Fatal("Get does not return the added key")
			}
		})
	}
	if o, _ := d.Get(own.ID); o.Method != ctr.AES256CTR || bytes.Equal(o.Bytes(), aes) {
		t.Fatal("the key that had the taken id was replaced")
	}
}

func TestImportAddCopies(t *testing.T) {
	d := New()
	key := bytes.Repeat([]byte{1}, 16)
	k, err := d.Add(3, ctr.SM4CTR, time.Now(), false, key)
	if err != nil {
		t.Fatal(err)
	}
	clear(key)
	if k.Bytes()[0] != 1 {
		t.Fatal("Add aliases the caller's slice")
	}
}

func TestImportFind(t *testing.T) {
	d := New()
	a := bytes.Repeat([]byte{0xa}, 16)
	if _, err := d.Add(10, ctr.SM4CTR, time.Now(), false, a); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Add(11, ctr.AES128CTR, time.Now(), false, bytes.Repeat([]byte{0xb}, 16)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		method ctr.Method
		key    []byte
		want   uint64 // 0: not found
	}{
		{"same bytes and method", ctr.SM4CTR, a, 10},
		{"same bytes, other method", ctr.AES128CTR, a, 0},
		{"other bytes", ctr.SM4CTR, bytes.Repeat([]byte{0xc}, 16), 0},
		{"prefix only", ctr.SM4CTR, a[:8], 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, ok := d.Find(tc.method, tc.key)
			if tc.want == 0 {
				if ok {
					t.Fatalf("found key %d", k.ID)
				}
				return
			}
			if !ok || k.ID != tc.want {
				t.Fatalf("Find = %v, %v; want key %d", k, ok, tc.want)
			}
		})
	}
}

// An added key is stored like any other: it survives Save and Load with
// its id, method, time and exposure, and the current key stays current.
func TestImportAddSaveLoad(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "key.dict")
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	d := New()
	own, err := d.NewKey(ctr.AES128CTR, now)
	if err != nil {
		t.Fatal(err)
	}
	added, err := d.Add(42, ctr.SM4CTR, now.Add(-48*time.Hour), true, bytes.Repeat([]byte{9}, 16))
	if err != nil {
		t.Fatal(err)
	}
	mk := fileKeys(t, hexA)
	if err := d.Save(ctx, osfs, path, mk); err != nil {
		t.Fatal(err)
	}
	got, _, err := Load(ctx, osfs, path, mk)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	if got.Current != own.ID || got.Len() != 2 {
		t.Fatalf("current %d, %d keys", got.Current, got.Len())
	}
	k, ok := got.Get(42)
	if !ok || k.Method != added.Method || !k.Created.Equal(added.Created) || !k.Exposed || !bytes.Equal(k.Bytes(), added.Bytes()) {
		t.Fatalf("loaded %+v, ok %v", k, ok)
	}
}
