module github.com/atrest/atrest

go 1.26

require github.com/klauspost/cpuid/v2 v2.4.2

require golang.org/x/sys v0.47.0

require github.com/emmansun/gmsm v0.44.1 // indirect
