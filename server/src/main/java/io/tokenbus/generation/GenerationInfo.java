package io.tokenbus.generation;

import io.tokenbus.bus.GenerationRequest;

/**
 * What a generation is, fixed at creation apart from ownership: id, model, creation time (Unix
 * seconds), the request, and the owner node with its epoch. Its progress lives in the log.
 */
public record GenerationInfo(
    String id, String model, long created, GenerationRequest request, String owner, long epoch) {}
