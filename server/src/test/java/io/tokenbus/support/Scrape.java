package io.tokenbus.support;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One scrape of {@code /metrics}, parsed from Prometheus's text format: every sample with its
 * labels. A sample line is {@code name{label="value",...} value}; comments are skipped.
 */
public final class Scrape {

  /** One sample. */
  public record Sample(String name, Map<String, String> labels, double value) {}

  private final List<Sample> samples;
  private final String text;

  private Scrape(List<Sample> samples, String text) {
    this.samples = samples;
    this.text = text;
  }

  public static Scrape parse(String text) {
    List<Sample> samples = new ArrayList<>();
    for (String line : text.split("\n")) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      int brace = line.indexOf('{');
      int space = line.lastIndexOf(' ');
      String name;
      Map<String, String> labels = new LinkedHashMap<>();
      if (brace >= 0 && brace < space) {
        name = line.substring(0, brace);
        parseLabels(line.substring(brace + 1, line.lastIndexOf('}')), labels);
      } else {
        name = line.substring(0, space);
      }
      String value = line.substring(space + 1);
      samples.add(
          new Sample(
              name,
              labels,
              switch (value) {
                case "+Inf" -> Double.POSITIVE_INFINITY;
                case "-Inf" -> Double.NEGATIVE_INFINITY;
                case "NaN" -> Double.NaN;
                default -> Double.parseDouble(value);
              }));
    }
    return new Scrape(samples, text);
  }

  private static void parseLabels(String body, Map<String, String> labels) {
    int i = 0;
    while (i < body.length()) {
      int eq = body.indexOf('=', i);
      String key = body.substring(i, eq).trim();
      StringBuilder value = new StringBuilder();
      int j = eq + 2; // past ="
      while (body.charAt(j) != '"') {
        char c = body.charAt(j);
        if (c == '\\') {
          char next = body.charAt(++j);
          value.append(next == 'n' ? '\n' : next);
        } else {
          value.append(c);
        }
        j++;
      }
      labels.put(key, value.toString());
      i = j + 1;
      if (i < body.length() && body.charAt(i) == ',') {
        i++;
      }
    }
  }

  /**
   * The sum of the samples named {@code name} whose labels include the given ones (pairs: label,
   * value); 0 when there is none.
   */
  public double sum(String name, String... labels) {
    double sum = 0;
    for (Sample sample : matching(name, labels)) {
      sum += sample.value();
    }
    return sum;
  }

  /** Whether any sample is named {@code name} (with those labels). */
  public boolean has(String name, String... labels) {
    return !matching(name, labels).isEmpty();
  }

  public List<Sample> matching(String name, String... labels) {
    List<Sample> out = new ArrayList<>();
    for (Sample sample : samples) {
      if (!sample.name().equals(name)) {
        continue;
      }
      boolean all = true;
      for (int i = 0; i < labels.length; i += 2) {
        all &= labels[i + 1].equals(sample.labels().get(labels[i]));
      }
      if (all) {
        out.add(sample);
      }
    }
    return out;
  }

  public List<Sample> samples() {
    return samples;
  }

  public String text() {
    return text;
  }
}
