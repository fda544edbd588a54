package io.tokenbus.generation;

/**
 * A generation this node has just taken over, for a local worker to continue: its info (with the
 * new owner and epoch) and where its log stands. Sent on {@link io.tokenbus.bus.Addresses#RESUME}.
 */
public record ResumeGeneration(GenerationInfo info, Progress progress) {}
