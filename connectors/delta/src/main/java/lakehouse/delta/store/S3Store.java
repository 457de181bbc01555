package lakehouse.delta.store;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * A table on S3 (AWS, MinIO, SeaweedFS), spoken to directly over HTTP with Signature V4.
 *
 * <p>Why not the cluster's Hadoop S3 filesystem: it cannot create an object only if absent, and
 * that is what a Delta commit next to another process (delta-rs maintenance, another job) needs.
 * S3 offers it as {@code PUT} with {@code If-None-Match: *} (AWS since 2024, MinIO, SeaweedFS):
 * 412 means another writer created the key first. Path-style addressing, so one client works for
 * every S3 server here.
 *
 * <p>Credentials: the DDL options if given; else AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from the
 * task manager's environment; else s3.access-key / s3.secret-key from the cluster's own Flink
 * configuration (the keys its checkpoints use). They are never logged.
 */
public final class S3Store implements ObjectStore {
    private static final int ATTEMPTS = 6;
    private static final DateTimeFormatter AMZ_DATE = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'");
    private static final Pattern KEY = Pattern.compile("<Key>(.*?)</Key>");
    private static final Pattern TOKEN = Pattern.compile("<NextContinuationToken>(.*?)</NextContinuationToken>");

    private final HttpClient http;
    private final URI endpoint;
    private final String bucket;
    private final String rootKey; // no leading or trailing slash
    private final String region;
    private final String accessKey;
    private final String secretKey;

    private S3Store(URI endpoint, String bucket, String rootKey, String region, String accessKey, String secretKey) {
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).version(HttpClient.Version.HTTP_1_1).build();
        this.endpoint = endpoint;
        this.bucket = bucket;
        this.rootKey = rootKey;
        this.region = region;
        this.accessKey = accessKey;
        this.secretKey = secretKey;
    }

    static S3Store open(Config config) {
        URI table = URI.create(config.tablePath);
        String bucket = table.getHost();
        String root = table.getPath().replaceAll("^/+", "").replaceAll("/+$", "");
        String endpoint = firstNonEmpty(config.endpoint, flinkOption("s3.endpoint"), "https://s3." + config.region + ".amazonaws.com");
        String access = firstNonEmpty(config.accessKey, System.getenv("AWS_ACCESS_KEY_ID"), flinkOption("s3.access-key"));
        String secret = firstNonEmpty(config.secretKey, System.getenv("AWS_SECRET_ACCESS_KEY"), flinkOption("s3.secret-key"));
        if (access == null || secret == null) {
            throw new IllegalStateException("no S3 credentials for " + config.tablePath
                    + ": set the 's3.access-key'/'s3.secret-key' options, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
                    + " on the task managers, or s3.access-key/s3.secret-key in the cluster's Flink configuration");
        }
        return new S3Store(URI.create(endpoint.replaceAll("/+$", "")), bucket, root, config.region, access, secret);
    }

    private static String flinkOption(String key) {
        try {
            if (System.getenv("FLINK_CONF_DIR") == null) {
                return null;
            }
            return org.apache.flink.configuration.GlobalConfiguration.loadConfiguration().getString(key, null);
        } catch (RuntimeException unreadable) {
            return null;
        }
    }

    private static String firstNonEmpty(String... values) {
        for (String value : values) {
            if (value != null && !value.isEmpty()) {
                return value;
            }
        }
        return null;
    }

    private String objectKey(String key) {
        return rootKey.isEmpty() ? key : rootKey + "/" + key;
    }

    @Override
    public byte[] read(String key) throws IOException {
        HttpResponse<byte[]> response = send("GET", objectKey(key), Map.of(), Map.of(), null, null);
        if (response.statusCode() == 404) {
            return null;
        }
        check(response, "GET", key);
        return response.body();
    }

    @Override
    public boolean putIfAbsent(String key, byte[] data) throws IOException {
        HttpResponse<byte[]> response = send("PUT", objectKey(key), Map.of(), Map.of("if-none-match", "*"), data, null);
        if (response.statusCode() == 412) {
            return false;
        }
        check(response, "PUT (if absent)", key);
        return true;
    }

    @Override
    public void put(String key, byte[] data) throws IOException {
        check(send("PUT", objectKey(key), Map.of(), Map.of(), data, null), "PUT", key);
    }

    @Override
    public void putFile(String key, Path file) throws IOException {
        check(send("PUT", objectKey(key), Map.of(), Map.of(), null, file), "PUT", key);
    }

    @Override
    public List<String> list(String prefix) throws IOException {
        List<String> keys = new ArrayList<>();
        String full = objectKey(prefix);
        String token = null;
        do {
            Map<String, String> query = new TreeMap<>();
            query.put("list-type", "2");
            query.put("prefix", full);
            if (token != null) {
                query.put("continuation-token", token);
            }
            HttpResponse<byte[]> response = send("GET", "", query, Map.of(), null, null);
            check(response, "LIST", prefix);
            String xml = new String(response.body(), StandardCharsets.UTF_8);
            Matcher m = KEY.matcher(xml);
            while (m.find()) {
                String k = unescapeXml(m.group(1));
                keys.add(rootKey.isEmpty() ? k : k.substring(rootKey.length() + 1));
            }
            Matcher t = TOKEN.matcher(xml);
            token = xml.contains("<IsTruncated>true</IsTruncated>") && t.find() ? unescapeXml(t.group(1)) : null;
        } while (token != null);
        return keys;
    }

    @Override
    public String describe() {
        return "s3://" + bucket + "/" + rootKey + " at " + endpoint;
    }

    private static void check(HttpResponse<byte[]> response, String what, String key) throws IOException {
        int status = response.statusCode();
        if (status / 100 != 2) {
            String body = new String(response.body(), StandardCharsets.UTF_8);
            throw new IOException("S3 " + what + " " + key + " failed: HTTP " + status + " "
                    + (body.length() > 300 ? body.substring(0, 300) : body));
        }
    }

    /** One signed request, retried on connection errors and 5xx/429/409 (never on 412). */
    private HttpResponse<byte[]> send(String method, String key, Map<String, String> query, Map<String, String> extra,
                                      byte[] body, Path file) throws IOException {
        IOException last = null;
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            if (attempt > 0) {
                sleep(200L << Math.min(attempt, 5));
            }
            try {
                HttpResponse<byte[]> response = http.send(request(method, key, query, extra, body, file),
                        HttpResponse.BodyHandlers.ofByteArray());
                int status = response.statusCode();
                if (status >= 500 || status == 429 || status == 409) {
                    last = new IOException("S3 " + method + " " + key + ": HTTP " + status);
                    continue;
                }
                return response;
            } catch (IOException error) {
                last = error;
            } catch (InterruptedException interrupted) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", interrupted);
            }
        }
        throw last;
    }

    private static void sleep(long millis) throws IOException {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", interrupted);
        }
    }

    private HttpRequest request(String method, String key, Map<String, String> query, Map<String, String> extra,
                                byte[] body, Path file) throws IOException {
        String path = "/" + bucket + (key.isEmpty() ? "" : "/" + encodePath(key));
        StringBuilder canonicalQuery = new StringBuilder();
        for (Map.Entry<String, String> e : new TreeMap<>(query).entrySet()) {
            if (canonicalQuery.length() > 0) {
                canonicalQuery.append('&');
            }
            canonicalQuery.append(encode(e.getKey())).append('=').append(encode(e.getValue()));
        }
        String payloadHash = file != null ? "UNSIGNED-PAYLOAD" : hex(sha256(body == null ? new byte[0] : body));
        String amzDate = ZonedDateTime.now(ZoneOffset.UTC).format(AMZ_DATE);
        String date = amzDate.substring(0, 8);
        String host = endpoint.getHost() + (endpoint.getPort() > 0 ? ":" + endpoint.getPort() : "");

        TreeMap<String, String> headers = new TreeMap<>(extra);
        headers.put("host", host);
        headers.put("x-amz-content-sha256", payloadHash);
        headers.put("x-amz-date", amzDate);
        StringBuilder canonicalHeaders = new StringBuilder();
        for (Map.Entry<String, String> e : headers.entrySet()) {
            canonicalHeaders.append(e.getKey()).append(':').append(e.getValue().trim()).append('\n');
        }
        String signedHeaders = String.join(";", headers.keySet());
        String canonicalRequest = method + "\n" + path + "\n" + canonicalQuery + "\n" + canonicalHeaders + "\n"
                + signedHeaders + "\n" + payloadHash;
        String scope = date + "/" + region + "/s3/aws4_request";
        String toSign = "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex(sha256(canonicalRequest.getBytes(StandardCharsets.UTF_8)));
        byte[] signingKey = hmac(hmac(hmac(hmac(("AWS4" + secretKey).getBytes(StandardCharsets.UTF_8), date), region), "s3"), "aws4_request");
        String authorization = "AWS4-HMAC-SHA256 Credential=" + accessKey + "/" + scope + ", SignedHeaders="
                + signedHeaders + ", Signature=" + hex(hmac(signingKey, toSign));

        URI uri = URI.create(endpoint + path + (canonicalQuery.length() > 0 ? "?" + canonicalQuery : ""));
        HttpRequest.BodyPublisher publisher = file != null ? HttpRequest.BodyPublishers.ofFile(file)
                : body != null ? HttpRequest.BodyPublishers.ofByteArray(body) : HttpRequest.BodyPublishers.noBody();
        HttpRequest.Builder builder = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(120)).method(method, publisher);
        for (Map.Entry<String, String> e : headers.entrySet()) {
            if (!e.getKey().equals("host")) {
                builder.header(e.getKey(), e.getValue());
            }
        }
        return builder.header("Authorization", authorization).build();
    }

    private static String encodePath(String key) {
        StringBuilder out = new StringBuilder();
        for (String segment : key.split("/", -1)) {
            if (out.length() > 0) {
                out.append('/');
            }
            out.append(encode(segment));
        }
        return out.toString();
    }

    /** RFC 3986 percent-encoding, as Signature V4 wants it. */
    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20").replace("*", "%2A").replace("%7E", "~");
    }

    private static String unescapeXml(String s) {
        return s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&");
    }

    private static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (java.security.NoSuchAlgorithmException impossible) {
            throw new IllegalStateException(impossible);
        }
    }

    private static byte[] hmac(byte[] key, String data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(data.getBytes(StandardCharsets.UTF_8));
        } catch (java.security.GeneralSecurityException impossible) {
            throw new IllegalStateException(impossible);
        }
    }

    private static String hex(byte[] bytes) {
        StringBuilder out = new StringBuilder(bytes.length * 2);
        for (byte b : bytes) {
            out.append(Character.forDigit((b >> 4) & 0xF, 16)).append(Character.forDigit(b & 0xF, 16));
        }
        return out.toString();
    }

}
