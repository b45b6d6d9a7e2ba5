package cpuclock

const supported = true

// addChain runs n iterations of chainAdds dependent 64-bit additions.
//
//go:noescape
func addChain(n uint64)
