package io.tokenbus.provider;

/**
 * The part of an answer already produced, for a provider to continue from: its text, and the number
 * of deltas it came in (a deterministic provider, such as the mock, resumes by count).
 */
public record Continuation(String text, long deltas) {}
