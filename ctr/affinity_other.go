//go:build !linux

package ctr

// Elsewhere the workers leave thread placement to the operating system.

func initAffinity() {}

func currentCPU() int { return -1 }

type workerAffinity struct{}

func (a *workerAffinity) start() {}

func (a *workerAffinity) avoid(cpu int) {}
