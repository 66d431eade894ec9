using System.Security.Cryptography;
using System.Text;

namespace Switchboard.Client.Tests;

/// <summary>HS256 JWTs signed with the test server's secret.</summary>
internal static class Tokens
{
    public static string Jwt(string payloadJson, string secret = TestServer.Secret)
    {
        static string B64(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var header = B64("{\"alg\":\"HS256\",\"typ\":\"JWT\"}"u8.ToArray());
        var payload = B64(Encoding.UTF8.GetBytes(payloadJson));
        var signature = B64(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{header}.{payload}")));
        return $"{header}.{payload}.{signature}";
    }

    public static string Connection(string user, DateTimeOffset now, int ttlSeconds = 3600)
        => Jwt($"{{\"sub\":\"{user}\",\"exp\":{now.ToUnixTimeSeconds() + ttlSeconds}}}");

    public static string Subscription(string user, string channel, DateTimeOffset now, int ttlSeconds = 3600)
        => Jwt($"{{\"sub\":\"{user}\",\"channel\":\"{channel}\",\"exp\":{now.ToUnixTimeSeconds() + ttlSeconds}}}");
}
