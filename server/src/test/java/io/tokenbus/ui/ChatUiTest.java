package io.tokenbus.ui;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.Browser;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.TestHub;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.openqa.selenium.By;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;

/** The chat page in real headless Chromium: two browsers are two people sharing one session. */
@ExtendWith(VertxExtension.class)
@DisplayName("Chat page in a browser: shared sessions, reloads, safe rendering")
class ChatUiTest {

  private static final int PAGE_SECONDS = 15;
  private static final int ANSWER_SECONDS = 30; // 120 mock tokens at 30 per second take about 4 s

  /** Every message on a page, read in one script so the snapshot is consistent. */
  private static final String SHOWN =
      """
      return Array.from(document.querySelectorAll('#messages .message')).map(m => ({
        id: m.dataset.id || '', role: m.dataset.role || '', status: m.dataset.status || '',
        author: m.querySelector('.author') ? m.querySelector('.author').textContent : '',
        text: m.querySelector('.content') ? m.querySelector('.content').textContent : ''}));""";

  private TestHub hub;
  private String base;
  private final List<Browser> browsers = new ArrayList<>();

  /** One message as a page shows it. */
  record Shown(String id, String role, String status, String author, String text) {}

  /** Two people in one session, each in their own browser. */
  record Chat(String id, Browser ann, Browser bob) {}

  @BeforeEach
  void start(Vertx vertx) {
    hub =
        await(
            TestHub.start(
                vertx,
                Map.of(
                    "TOKENBUS_MOCK_TOKENS_PER_SECOND",
                    "30",
                    "TOKENBUS_MOCK_DEFAULT_MAX_TOKENS",
                    "120")));
    base = "http://127.0.0.1:" + hub.port() + "/";
  }

  @AfterEach
  void closeBrowsers() {
    browsers.forEach(Browser::close);
  }

  @Test
  @DisplayName(
      "two people chat from two browsers: both see each other, the answer streaming, and the same final text as the transcript")
  void twoPeopleChat() {
    Chat chat = annCreatesAndBobJoins(true);
    Browser ann = chat.ann();
    Browser bob = chat.bob();

    typeMessage(ann, "What does tokenbus do?");
    bob.waitUntil(
        d -> text("#typing").apply(d).contains("Ann is typing"),
        PAGE_SECONDS,
        "Bob sees that Ann is typing");
    ann.driver().findElement(By.id("send")).click();

    for (Browser browser : List.of(ann, bob)) {
      browser.waitUntil(
          d ->
              userMessages(shown(browser)).stream()
                  .anyMatch(
                      m ->
                          m.author().equals("Ann")
                              && m.text().trim().equals("What does tokenbus do?")),
          PAGE_SECONDS,
          "Ann's message shows");
    }
    // The answer streams: each page sees its text grow while its status is still "streaming".
    int annFirst = streamingLength(ann, 1);
    int bobFirst = streamingLength(bob, 1);
    streamingLength(ann, annFirst + 1);
    streamingLength(bob, bobFirst + 1);
    assertTrue(
        ann.driver().findElement(By.id("stop")).isEnabled(),
        "#stop is enabled while the answer streams");

    Shown annAnswer = completedAnswer(ann);
    Shown bobAnswer = completedAnswer(bob);
    assertEquals(annAnswer.text(), bobAnswer.text(), "both people see the same answer");
    assertEquals(annAnswer.id(), bobAnswer.id());
    ann.waitUntil(
        d -> !d.findElement(By.id("stop")).isEnabled(),
        PAGE_SECONDS,
        "#stop is disabled once the answer ended");

    JsonArray transcript = transcript(chat.id());
    assertEquals(2, transcript.size(), transcript.encodePrettily());
    JsonObject question = transcript.getJsonObject(0);
    assertEquals("user", question.getString("role"));
    assertEquals("Ann", question.getString("author"));
    assertEquals("What does tokenbus do?", question.getString("content"));
    JsonObject answer = transcript.getJsonObject(1);
    assertEquals("assistant", answer.getString("role"));
    assertEquals("completed", answer.getString("status"));
    assertEquals(answer.getString("id"), annAnswer.id(), "the page's message is the transcript's");
    assertFalse(answer.getString("content").isBlank(), "the transcript holds the answer");
    assertWordsInOrder(answer.getString("content"), annAnswer.text());
    assertTrue(
        annAnswer.text().contains("one stream"), "the Markdown list renders: " + annAnswer.text());
    assertFalse(
        ann.driver()
            .findElements(By.cssSelector("#messages .message[data-role=assistant] .content li"))
            .isEmpty(),
        "the mock's \"- one stream\" lines render as list items");
    assertEquals(List.of(question.getString("id"), answer.getString("id")), ids(shown(bob)));

    ann.screenshot("chat-ann");
    bob.screenshot("chat-bob");
    bob.viewport(390, 844, true);
    bob.waitUntil(
        d -> d.findElement(By.id("input")).isDisplayed(),
        PAGE_SECONDS,
        "the composer shows on a phone");
    bob.screenshot("chat-phone");
  }

  @Test
  @DisplayName("a person who reloads mid-answer ends with the same text, each message shown once")
  void reloadMidAnswer() {
    Chat chat = annCreatesAndBobJoins(false);
    Browser ann = chat.ann();
    Browser bob = chat.bob();

    send(ann, "Tell me about streams.");
    streamingLength(ann, 20);
    bob.driver().navigate().refresh();
    // The stored name joins at once: no name form, straight back to the live chat.
    awaitLive(bob);
    assertFalse(
        bob.driver().findElement(By.id("name-form")).isDisplayed(),
        "a stored name skips the name form");
    streamingLength(
        bob, 1); // back in time to watch the rest stream: the reload really was mid-answer

    Shown annAnswer = completedAnswer(ann);
    Shown bobAnswer = completedAnswer(bob);
    assertEquals(annAnswer.text(), bobAnswer.text(), "the reloaded page ends with the same answer");

    JsonArray transcript = transcript(chat.id());
    List<String> transcriptIds =
        transcript.stream().map(m -> ((JsonObject) m).getString("id")).toList();
    for (Browser browser : List.of(ann, bob)) {
      List<Shown> shown = shown(browser);
      assertEquals(transcript.size(), shown.size(), "each message shows exactly once: " + shown);
      assertEquals(transcriptIds, ids(shown));
      assertEquals(shown.size(), new HashSet<>(ids(shown)).size(), "no duplicates: " + shown);
    }
    bob.screenshot("chat-reloaded");
  }

  @Test
  @DisplayName("when the owner deletes the chat, an open page says so and stops reconnecting")
  void deletedChatIsExplained() {
    Chat chat = annCreatesAndBobJoins(false);
    Browser bob = chat.bob();
    awaitLive(bob);
    assertEquals(204, await(hub.web().delete("/v1/sessions/" + chat.id()).send()).statusCode());
    String error =
        bob.waitUntil(
            d -> Optional.of(text("#chat-error").apply(d)).filter(t -> !t.isBlank()).orElse(null),
            PAGE_SECONDS,
            "#chat-error says the chat was deleted");
    assertTrue(error.contains("deleted"), error);
    assertEquals("deleted", text("#connection").apply(bob.driver()));
  }

  @Test
  @DisplayName("HTML and javascript: links in a message render as text and never run")
  void messagesRenderSafely() {
    Chat chat = annCreatesAndBobJoins(false);
    Browser ann = chat.ann();
    Browser bob = chat.bob();
    String hostile =
        "<script>window.__xss=1</script><img src=x onerror=\"window.__xss=2\"> [link](javascript:alert(1))"
            // Markdown's own ways in (one line: Enter sends): an image, an autolink, entity-spelled
            // and data: targets, SVG.
            + " ![pic](x\" onerror=\"window.__xss=6) <javascript:window.__xss=7>"
            + " [tab](jav&#x09;ascript:window.__xss=8) [data](data:text/html,<b>x</b>)"
            + " <svg onload=\"window.__xss=9\"></svg> [ok](https://example.com)";

    send(ann, hostile);
    for (Browser browser : List.of(ann, bob)) {
      browser.waitUntil(
          d -> userMessages(shown(browser)).stream().anyMatch(m -> m.text().contains("<script>")),
          PAGE_SECONDS,
          "the message shows its <script> as text");
      String shownText = userMessages(shown(browser)).get(0).text();
      assertTrue(
          shownText.contains(
              "<script>window.__xss=1</script><img src=x onerror=\"window.__xss=2\">"),
          shownText);
      completedAnswer(
          browser); // by then any injected image would long have failed to load and fired onerror
      assertNothingRan(browser);
    }
    assertEquals(hostile, transcript(chat.id()).getJsonObject(0).getString("content"));
    ann.screenshot("chat-xss");

    // A reload renders the same messages from the session's state instead of from live events.
    bob.driver().navigate().refresh();
    awaitLive(bob);
    bob.waitUntil(
        d -> userMessages(shown(bob)).stream().anyMatch(m -> m.text().contains("<script>")),
        PAGE_SECONDS,
        "after a reload the message still shows its <script> as text");
    completedAnswer(bob);
    assertNothingRan(bob);
  }

  @Test
  @DisplayName(
      "a person changes their name in the chat: others see the new name, the browser keeps it"
          + " and its recent chats, and a reload stays under it")
  void changeName() {
    Chat chat = annCreatesAndBobJoins(false);
    Browser ann = chat.ann();
    Browser bob = chat.bob();
    Object recentBefore = ann.script("return localStorage.getItem('tokenbus.recent')");

    ann.driver().findElement(By.id("rename")).click();
    WebElement field = ann.driver().findElement(By.id("new-name"));
    assertEquals("Ann", field.getDomProperty("value"), "the form starts from the current name");
    field.clear();
    field.sendKeys("Annie", Keys.ENTER);
    for (Browser browser : List.of(ann, bob)) {
      browser.waitUntil(
          d -> participants(browser).contains("Annie") && !participants(browser).contains("Ann"),
          PAGE_SECONDS,
          "#participants lists Annie instead of Ann");
    }
    assertEquals("Annie", ann.script("return localStorage.getItem('tokenbus.name')"));
    assertEquals(
        recentBefore,
        ann.script("return localStorage.getItem('tokenbus.recent')"),
        "the recent chats are kept");
    send(ann, "Hello under my new name");
    bob.waitUntil(
        d ->
            userMessages(shown(bob)).stream()
                .anyMatch(m -> m.author().equals("Annie") && m.text().contains("new name")),
        PAGE_SECONDS,
        "Bob sees Annie's message");

    ann.driver().navigate().refresh();
    awaitLive(ann);
    ann.waitUntil(
        d -> participants(ann).contains("Annie"), PAGE_SECONDS, "after a reload Ann is Annie");
    assertFalse(
        ann.driver()
            .findElements(By.cssSelector("#messages .message.mine[data-role=user]"))
            .isEmpty(),
        "her message is shown as hers");
  }

  // ---- steps ----

  @Test
  @DisplayName(
      "a stream the hub refuses (the chat is full) is explained on the page, not retried forever")
  void refusedStreamIsExplained() {
    Vertx vertx = Vertx.vertx(); // a hub of its own, with room for one participant
    try {
      refusedStreamIsExplained(
          vertx, await(TestHub.start(vertx, Map.of("TOKENBUS_SESSIONS_MAX_PARTICIPANTS", "1"))));
    } finally {
      await(vertx.close());
    }
  }

  private void refusedStreamIsExplained(Vertx vertx, TestHub hub) {
    String id =
        await(hub.post("/v1/sessions", new JsonObject())).bodyAsJsonObject().getString("id");
    SseClient ann =
        await(
            SseClient.get(
                SseClient.client(vertx),
                hub.port(),
                "/v1/sessions/" + id + "/events?author=Ann",
                Map.of()));
    assertEquals(200, ann.status());
    Browser bob = browser();
    bob.open("http://127.0.0.1:" + hub.port() + "/?session=" + id);
    bob.waitUntil(
        d -> d.findElement(By.id("name-form")).isDisplayed(),
        PAGE_SECONDS,
        "a new visitor sees #name-form");
    bob.driver().findElement(By.id("name")).sendKeys("Bob");
    bob.driver().findElement(By.id("join")).click();
    String error =
        bob.waitUntil(
            d -> Optional.of(text("#chat-error").apply(d)).filter(t -> !t.isBlank()).orElse(null),
            PAGE_SECONDS,
            "#chat-error explains the refusal");
    assertTrue(error.contains("participants"), error);
    assertEquals("disconnected", text("#connection").apply(bob.driver()));
  }

  /** Ann creates a session from the landing page and joins; Bob opens her share link and joins. */
  private Chat annCreatesAndBobJoins(boolean screenshots) {
    Browser ann = browser();
    Browser bob = browser();

    ann.open(base);
    ann.waitUntil(
        d -> d.findElement(By.id("create-form")).isDisplayed(),
        PAGE_SECONDS,
        "the landing page shows #create-form");
    if (screenshots) {
      ann.screenshot("landing");
    }
    ann.driver().findElement(By.id("title")).sendKeys("Team chat");
    ann.driver().findElement(By.id("create")).click();
    String id =
        ann.waitUntil(
            d -> sessionParameter(d.getCurrentUrl()).orElse(null),
            PAGE_SECONDS,
            "#create navigates to /?session=<id>");
    assertEquals(
        "Team chat", await(hub.get("/v1/sessions/" + id)).bodyAsJsonObject().getString("title"));

    join(ann, "Ann");
    String share =
        ann.waitUntil(
            d -> d.findElement(By.id("share")).isDisplayed() ? shareLink(d, "share") : null,
            PAGE_SECONDS,
            "the creator is shown #share");
    assertEquals(
        Optional.of(id), sessionParameter(share), "#share links to this session: " + share);
    assertTrue(share.startsWith(base), "#share is this page's URL: " + share);

    bob.open(share);
    join(bob, "Bob");
    for (Browser browser : List.of(ann, bob)) {
      browser.waitUntil(
          d -> participants(browser).containsAll(List.of("Ann", "Bob")),
          PAGE_SECONDS,
          "#participants lists Ann and Bob");
    }
    return new Chat(id, ann, bob);
  }

  private static String shareLink(WebDriver driver, String id) {
    return driver.findElement(By.id(id)).getDomProperty("href");
  }

  @Test
  @DisplayName(
      "with auth on, an app's session links work: the owner link can invite, the share link joins,"
          + " the view link shows the chat read-only; the page cannot create a chat without a key")
  void linksWithAuthOn() {
    Vertx other = Vertx.vertx(); // a second hub: its own Vert.x, as each registers its codecs
    try {
      linksWithAuthOn(other);
    } finally {
      await(other.close());
    }
  }

  private void linksWithAuthOn(Vertx vertx) {
    String key = "sk-acme-1234567890abcdef";
    TestHub keyed =
        await(
            TestHub.start(
                vertx,
                Map.of(
                    "TOKENBUS_API_KEYS",
                    "acme:" + key,
                    "TOKENBUS_MOCK_TOKENS_PER_SECOND",
                    "30",
                    "TOKENBUS_MOCK_DEFAULT_MAX_TOKENS",
                    "60")));
    String keyedBase = "http://127.0.0.1:" + keyed.port() + "/";
    // The app's backend creates the chat with its key and hands out the links.
    var created =
        await(
            keyed
                .web()
                .post("/v1/sessions")
                .putHeader("Authorization", "Bearer " + key)
                .sendJsonObject(new JsonObject().put("title", "Support")));
    assertEquals(201, created.statusCode(), created.bodyAsString());
    var session = created.bodyAsJsonObject();

    Browser ann = browser();
    ann.open(session.getString("owner_url"));
    join(ann, "Ann");
    ann.waitUntil(
        d -> d.findElement(By.id("share-view")).isDisplayed(),
        PAGE_SECONDS,
        "the owner is shown #share-view");
    assertEquals(session.getString("share_url"), shareLink(ann.driver(), "share"));
    assertEquals(session.getString("view_url"), shareLink(ann.driver(), "share-view"));

    Browser bob = browser();
    bob.open(session.getString("share_url"));
    join(bob, "Bob");
    assertFalse(
        bob.driver().findElement(By.id("share")).isDisplayed(), "a participant cannot invite");

    Browser carol = browser();
    carol.open(session.getString("view_url"));
    carol.waitUntil(
        d -> d.findElement(By.id("read-only")).isDisplayed(),
        PAGE_SECONDS,
        "a viewer is told #read-only");
    carol.waitUntil(
        d -> text("#connection").apply(d).equals("live"), PAGE_SECONDS, "#connection says live");
    assertFalse(carol.driver().findElement(By.id("composer")).isDisplayed(), "no #composer");

    send(ann, "Hello from the owner");
    Shown carolSees = completedAnswer(carol);
    assertEquals(completedAnswer(bob).text(), carolSees.text());
    assertEquals(List.of("Ann", "Bob"), participants(ann), "a viewer is not present");

    Browser stranger = browser();
    stranger.open(keyedBase);
    stranger.waitUntil(
        d -> d.findElement(By.id("create-form")).isDisplayed(), PAGE_SECONDS, "#create-form");
    stranger.driver().findElement(By.id("create")).click();
    String refused =
        stranger.waitUntil(
            d -> Optional.of(text("#create-error").apply(d)).filter(t -> !t.isBlank()).orElse(null),
            PAGE_SECONDS,
            "#create-error explains the refusal");
    assertTrue(refused.contains("API key"), refused);
  }

  private Browser browser() {
    Browser browser = Browser.start();
    browsers.add(browser);
    return browser;
  }

  private static void join(Browser browser, String name) {
    browser.waitUntil(
        d -> d.findElement(By.id("name-form")).isDisplayed(),
        PAGE_SECONDS,
        "a new visitor sees #name-form");
    browser.driver().findElement(By.id("name")).sendKeys(name);
    browser.driver().findElement(By.id("join")).click();
    awaitLive(browser);
  }

  private static void awaitLive(Browser browser) {
    browser.waitUntil(
        d -> d.findElement(By.id("composer")).isDisplayed(),
        PAGE_SECONDS,
        "the chat view shows #composer");
    browser.waitUntil(
        d -> text("#connection").apply(d).equals("live"), PAGE_SECONDS, "#connection says live");
  }

  private static void send(Browser browser, String message) {
    typeMessage(browser, message);
    browser.driver().findElement(By.id("send")).click();
  }

  private static void typeMessage(Browser browser, String message) {
    WebElement input = browser.driver().findElement(By.id("input"));
    input.clear();
    input.sendKeys(message);
  }

  /**
   * Waits until the page's answer is streaming with at least {@code length} characters; returns its
   * length.
   */
  private static int streamingLength(Browser browser, int length) {
    return browser.waitUntil(
        d ->
            answer(shown(browser))
                .filter(m -> m.status().equals("streaming") && m.text().length() >= length)
                .map(m -> m.text().length())
                .orElse(null),
        ANSWER_SECONDS,
        "the answer streams with at least " + length + " characters");
  }

  private static Shown completedAnswer(Browser browser) {
    return browser.waitUntil(
        d -> answer(shown(browser)).filter(m -> m.status().equals("completed")).orElse(null),
        ANSWER_SECONDS,
        "the answer completes");
  }

  private static void assertNothingRan(Browser browser) {
    assertEquals(
        "undefined", browser.script("return typeof window.__xss"), "no injected script ran");
    assertEquals(
        0L,
        browser.script("return document.querySelectorAll('a[href^=\"javascript:\"]').length"),
        "no javascript: link");
    assertEquals(
        0L,
        browser.script(
            "return Array.from(document.querySelectorAll('a'))"
                + ".filter(a => a.href.trim().toLowerCase().startsWith('javascript:')).length"),
        "no javascript: link, in any spelling");
    assertEquals(
        0L,
        browser.script(
            "return document.querySelectorAll('#messages .content script, #messages .content img,"
                + " #messages .content svg, #messages .content [onerror], #messages .content [onload]').length"),
        "no element made from a message's HTML");
    assertEquals(
        0L,
        browser.script(
            "return Array.from(document.querySelectorAll('#messages .content a[href]'))"
                + ".filter(a => !/^(https?:|mailto:)/.test(a.href)"
                + " || a.rel !== 'noopener noreferrer nofollow' || a.target !== '_blank').length"),
        "a message's links go to http(s) or mailto only, in a new tab, without opener or referrer");
  }

  // ---- reading the page and the API ----

  @SuppressWarnings("unchecked")
  private static List<Shown> shown(Browser browser) {
    List<Map<String, Object>> rows = (List<Map<String, Object>>) browser.script(SHOWN);
    return rows.stream()
        .map(
            r ->
                new Shown(
                    (String) r.get("id"),
                    (String) r.get("role"),
                    (String) r.get("status"),
                    (String) r.get("author"),
                    (String) r.get("text")))
        .toList();
  }

  private static List<Shown> userMessages(List<Shown> shown) {
    return shown.stream().filter(m -> m.role().equals("user")).toList();
  }

  private static Optional<Shown> answer(List<Shown> shown) {
    return shown.stream()
        .filter(m -> m.role().equals("assistant"))
        .reduce((first, second) -> second);
  }

  private static List<String> ids(List<Shown> shown) {
    return shown.stream().map(Shown::id).toList();
  }

  @SuppressWarnings("unchecked")
  private static List<String> participants(Browser browser) {
    return (List<String>)
        browser.script(
            "return Array.from(document.querySelectorAll('#participants li')).map(li => li.textContent.trim())");
  }

  private static Function<WebDriver, String> text(String css) {
    return d -> d.findElement(By.cssSelector(css)).getText().trim();
  }

  private JsonArray transcript(String id) {
    var response = await(hub.get("/v1/sessions/" + id));
    assertEquals(200, response.statusCode(), response.bodyAsString());
    return response.bodyAsJsonObject().getJsonArray("messages");
  }

  private static Optional<String> sessionParameter(String url) {
    String query = URI.create(url).getRawQuery();
    if (query == null) {
      return Optional.empty();
    }
    for (String pair : query.split("&")) {
      if (pair.startsWith("session=") && pair.length() > "session=".length()) {
        return Optional.of(
            URLDecoder.decode(pair.substring("session=".length()), StandardCharsets.UTF_8));
      }
    }
    return Optional.empty();
  }

  /**
   * The raw Markdown's words, list markers aside, appear in the rendered text in the same order.
   */
  private static void assertWordsInOrder(String markdown, String rendered) {
    int from = 0;
    Predicate<String> marker = word -> word.matches("[-*+#>]+");
    for (String word : markdown.trim().split("\\s+")) {
      if (marker.test(word)) {
        continue;
      }
      int at = rendered.indexOf(word, from);
      assertTrue(
          at >= 0,
          "\""
              + word
              + "\" (after offset "
              + from
              + ") is missing from the rendered answer: "
              + rendered);
      from = at + word.length();
    }
  }
}
