//go:build purego || !(amd64 || arm64)

package ctr

// kernelUsable reports whether this build can run kernel id: without
// assembly, only the portable kernels.
func kernelUsable(id kernelID) bool {
	return id == kernCopy || id == kernAESGeneric || id == kernSM4Generic
}

// xorBlocks runs the Stream's kernel over src from counter (hi, lo). src is
// not empty, dst is as long, and lo does not wrap within the call.
func xorBlocks(s *Stream, dst, src []byte, hi, lo uint64) {
	xorBlocksGeneric(s, dst, src, hi, lo)
}

// xorBlocksSkipping reports false: no kernel here starts inside a block
// (see the amd64 version).
func xorBlocksSkipping(s *Stream, dst, src []byte, hi, lo uint64, skip int) bool { return false }
