// Package vectors holds what callers do with embeddings after Embed:
// Matryoshka truncation with renormalisation, int8 and binary
// quantisation, and exact top-k search by dot product over a matrix of
// embeddings (cosine similarity, for the L2-normalised vectors the encoder
// returns).
package vectors
