package io.tokenbus.generation;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class SeamTrimmerTest {

  private static String run(SeamTrimmer trimmer, List<String> pieces) {
    StringBuilder out = new StringBuilder();
    pieces.forEach(p -> out.append(trimmer.feed(p)));
    return out.append(trimmer.flush()).toString();
  }

  private static String repeats(String partial, List<String> pieces) {
    return run(SeamTrimmer.repeats(partial), pieces);
  }

  @Test
  @DisplayName(
      "a continuation that repeats several words of the partial answer loses the repeat, however"
          + " it is cut")
  void trimsTheRepeatedEnd() {
    String partial = "The quick brown fox jumps over the";
    assertEquals(
        " lazy dog.", repeats(partial, List.of("fox", " jumps", " over", " the", " lazy dog.")));
    assertEquals(" lazy dog.", repeats(partial, List.of("fox ju", "mps over the la", "zy dog.")));
    assertEquals(" lazy dog.", repeats(partial, List.of("fox jumps over the lazy dog.")));
  }

  @Test
  @DisplayName(
      "a continuation that rightly starts with the word the answer ended with keeps it (the seam"
          + " bug: a short match is no proof of a repeat)")
  void keepsAShortMatch() {
    assertEquals(" two three.", repeats("one two", List.of(" two", " three.")));
    assertEquals(" the end", repeats("at the", List.of(" the end")));
    assertEquals("2000 in Rome.", repeats("In the year 2000", List.of("2000 in Rome.")));
  }

  @Test
  @DisplayName(
      "a continuation that repeats nothing flows on unchanged, and is not held once it cannot be a"
          + " repeat")
  void passesNewTextThrough() {
    assertEquals(
        " lazy dog.", repeats("The quick brown fox jumps over the", List.of(" lazy", " dog.")));
    SeamTrimmer trimmer = SeamTrimmer.repeats("Hello world");
    assertEquals(
        "Zebra", trimmer.feed("Zebra"), "text that occurs nowhere in the tail is emitted at once");
    assertEquals(" stripes", trimmer.feed(" stripes"));
  }

  @Test
  @DisplayName("a continuation made only of a repeat yields nothing")
  void onlyARepeat() {
    assertEquals("", repeats("the quick brown fox jumps", List.of("brown fox", " jumps")));
  }

  @Test
  @DisplayName("a break inside a word or a number is not a repeat: nothing is trimmed")
  void breaksInsideWords() {
    assertEquals("0 in Rome.", repeats("In the year 200", List.of("0 in Rome.")));
    assertEquals("ok now.", repeats("Open the bo", List.of("ok now.")));
    assertEquals("aab", repeats("a", List.of("a", "a", "b")));
    assertEquals(
        "ox jumps over the lazy dog",
        repeats("the quick brown fox jumps over the lazy d", List.of("ox jumps over the lazy dog")),
        "a long match that starts inside a word is not a repeat");
    assertEquals(
        "ps over the lazy dog",
        repeats("the quick brown fox jum", List.of("brown fox jumps over the lazy dog")),
        "whole words re-sent after a break inside one are a repeat");
  }

  @Test
  @DisplayName(
      "after a prefill without its trailing white space, the white space written again is skipped,"
          + " and nothing else")
  void rewrittenWhiteSpace() {
    assertEquals(
        "Next paragraph.",
        run(SeamTrimmer.rewrites("\n\n"), List.of("\n", "\n", "Next", " paragraph.")));
    assertEquals("world", run(SeamTrimmer.rewrites(" "), List.of(" world")));
    assertEquals(
        "world", run(SeamTrimmer.rewrites(" "), List.of("world")), "not written again: all kept");
    assertEquals("next", run(SeamTrimmer.rewrites("\n\n"), List.of("\n\nnext")));
    assertEquals(
        "next", run(SeamTrimmer.rewrites("\n\n"), List.of("\nnext")), "written again in part");
  }
}
