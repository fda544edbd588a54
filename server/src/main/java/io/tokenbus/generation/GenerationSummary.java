package io.tokenbus.generation;

import io.tokenbus.bus.GenerationRequest;
import java.util.Comparator;
import java.util.Map;

/**
 * What a listing shows of one generation: small and fixed in size apart from its metadata (at most
 * 16 short pairs), so a store can send many without their logs.
 *
 * @param created Unix seconds
 * @param owner the node running it; null while it is being handed over
 */
public record GenerationSummary(
    String id,
    String model,
    long created,
    String tenant,
    String owner,
    GenerationStatus status,
    Map<String, String> metadata) {

  /** Newest first; the id breaks ties, so that every generation has one place in a listing. */
  public static final Comparator<GenerationSummary> NEWEST_FIRST =
      Comparator.comparingLong(GenerationSummary::created)
          .reversed()
          .thenComparing(GenerationSummary::id, Comparator.reverseOrder());

  public GenerationSummary {
    metadata = GenerationRequest.metadataOf(metadata);
  }

  /** The summary of {@code info}, in {@code status}. */
  public static GenerationSummary of(GenerationInfo info, GenerationStatus status) {
    return new GenerationSummary(
        info.id(),
        info.model(),
        info.created(),
        info.request().creator() == null ? null : info.request().creator().tenant(),
        info.owner(),
        status,
        info.request().metadata());
  }
}
