using System.Security.Cryptography;
using System.Text;

namespace Switchboard.Testing;

/// <summary>HS256 JWTs signed with the in-process test server's secret (or another, to forge one).</summary>
internal static class Tokens
{
    public static string Jwt(string payloadJson, string secret = InProcessServer.Secret)
    {
        static string B64(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var header = B64("{\"alg\":\"HS256\",\"typ\":\"JWT\"}"u8.ToArray());
        var payload = B64(Encoding.UTF8.GetBytes(payloadJson));
        var signature = B64(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{header}.{payload}")));
        return $"{header}.{payload}.{signature}";
    }

    public static string Connection(string user, DateTimeOffset now, int ttlSeconds = 3600, string extra = "")
        => Jwt($"{{\"sub\":\"{user}\",\"exp\":{now.ToUnixTimeSeconds() + ttlSeconds}{extra}}}");

    public static string Subscription(string user, string channel, DateTimeOffset now, int ttlSeconds = 3600)
        => Jwt($"{{\"sub\":\"{user}\",\"channel\":\"{channel}\",\"exp\":{now.ToUnixTimeSeconds() + ttlSeconds}}}");
}
