package ctr

// The amd64 kernels are written as avo programs in ./asm, a module of its
// own so that avo is not a dependency of this package. CI checks that this
// reproduces the committed files byte for byte.
//go:generate sh -c "cd asm && go run ./aes -out ../aes_amd64.s -stubs ../aes_stubs_amd64.go -pkg ctr"
//go:generate sh -c "cd asm && go run ./sm4 -out ../sm4_amd64.s -stubs ../sm4_stubs_amd64.go -pkg ctr"
