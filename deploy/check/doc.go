// Package check holds the deploy files to the facts of the binaries they run.
//
// It decodes the Kubernetes manifests strictly into the API types, the
// compose file into a strict struct, and the Dockerfiles into their stages,
// then reports every place where they disagree with each other or with what
// the binaries actually read and serve. The functions return all problems at
// once so a test can show them together and a mutated copy can prove each
// check fires.
package check
