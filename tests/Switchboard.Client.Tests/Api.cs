using System.Net;
using System.Text;
using System.Text.Json;

namespace Switchboard.Client.Tests;

/// <summary>The server's HTTP API, as a backend would call it.</summary>
internal static class Api
{
    public static async Task<JsonElement> PostAsync(HttpClient http, string method, string body)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(new Uri("/api/" + method, UriKind.Relative), content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var reply = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        Assert.False(reply.TryGetProperty("error", out _), reply.ToString());
        return reply;
    }

    public static Task PublishAsync(HttpClient http, string channel, int n)
        => PostAsync(http, "publish", $"{{\"channel\":\"{channel}\",\"data\":{{\"n\":{n}}}}}");

    public static Task DisconnectAsync(HttpClient http, string user, int code)
        => PostAsync(http, "disconnect", $"{{\"user\":\"{user}\",\"disconnect\":{{\"code\":{code},\"reason\":\"test\"}}}}");
}
