using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Switchboard.Auth;
using Switchboard.Server.Hosting;
using Switchboard.Testing;

namespace Switchboard.FunctionalTests;

/// <summary>
/// HTTP rate limits. Each test's server has fixed windows of an hour and a few permits, so the
/// outcome depends on the count of requests only, never on timing.
/// </summary>
public sealed class RateLimitTests
{
    private static readonly string[] TightLimits =
    [
        "--Switchboard:RateLimits:Api:PermitLimit=3",
        "--Switchboard:RateLimits:Api:Window=01:00:00",
        "--Switchboard:RateLimits:ApiUnauthorized:PermitLimit=2",
        "--Switchboard:RateLimits:ApiUnauthorized:Window=01:00:00",
    ];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Past_the_api_limit_a_client_gets_429_with_retry_after_while_another_address_is_served(bool httpStatusCodes)
    {
        await using var server = await ServerFixture.StartAsync([.. TightLimits, $"--Switchboard:Api:UseHttpStatusCodes={httpStatusCodes}"]);
        using var first = ApiFrom(server, "127.0.0.1");
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await InfoAsync(first)).StatusCode);
        }
        using var refused = await InfoAsync(first);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        var retryAfter = int.Parse(refused.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(retryAfter, 1, 3600);
        // The API's envelope says why, with the temporary "too many requests" code.
        var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal(111, error.GetProperty("code").GetInt32());

        // Another client (another source address) has its own budget.
        using var second = ApiFrom(server, "127.0.0.2");
        Assert.Equal(HttpStatusCode.OK, (await InfoAsync(second)).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await InfoAsync(first)).StatusCode);
    }

    [Fact]
    public async Task Guessing_the_api_key_is_limited_apart_from_calls_with_the_key()
    {
        await using var server = await ServerFixture.StartAsync(TightLimits);
        using var guesser = new HttpClient { BaseAddress = server.BaseAddress };
        guesser.DefaultRequestHeaders.Add("X-API-Key", "not-the-key-at-all-0000");
        Assert.Equal(HttpStatusCode.Unauthorized, (await InfoAsync(guesser)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await InfoAsync(guesser)).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await InfoAsync(guesser)).StatusCode);
        guesser.DefaultRequestHeaders.Remove("X-API-Key");
        Assert.Equal(HttpStatusCode.TooManyRequests, (await InfoAsync(guesser)).StatusCode);

        // The backend holding the key, on the same address, is not held back by the guesses.
        using var backend = server.Api();
        Assert.Equal(HttpStatusCode.OK, (await InfoAsync(backend)).StatusCode);
    }

    [Fact]
    public async Task The_token_policy_limits_each_address_and_client_id_on_its_own()
    {
        await using var server = await InProcessServer.StartAsync(
            ["--Switchboard:RateLimits:Token:PermitLimit=2", "--Switchboard:RateLimits:Token:Window=01:00:00"],
            configure: app => app.MapPost("/test/token", () => "ok").RequireRateLimiting(RateLimitPolicies.Token));
        using var http = new HttpClient { BaseAddress = server.BaseAddress };

        Task<HttpResponseMessage> TokenAsync(string clientId)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/test/token");
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(clientId + ":secret")));
            return http.SendAsync(request);
        }

        Assert.Equal(HttpStatusCode.OK, (await TokenAsync("bot-a")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await TokenAsync("bot-a")).StatusCode);
        var refused = await TokenAsync("bot-a");
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.True(refused.Headers.Contains("Retry-After"));
        Assert.Equal(HttpStatusCode.OK, (await TokenAsync("bot-b")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/test/token?client_id=web", null)).StatusCode);
    }

    [Fact]
    public async Task A_negative_permit_limit_or_an_empty_window_fails_start_up()
    {
        var e = await Assert.ThrowsAnyAsync<Exception>(() => ServerFixture.StartAsync(
            "--Switchboard:RateLimits:SignIn:PermitLimit=-1", "--Switchboard:RateLimits:Api:Window=00:00:00"));
        Assert.Contains("Switchboard:RateLimits:SignIn:PermitLimit", e.Message, StringComparison.Ordinal);
        Assert.Contains("Switchboard:RateLimits:Api:Window", e.Message, StringComparison.Ordinal);
    }

    private static Task<HttpResponseMessage> InfoAsync(HttpClient api) => api.PostAsync("/api/info", new StringContent("{}"));

    // An API client whose connections come from the given loopback address (any of 127.0.0.0/8 is local).
    private static HttpClient ApiFrom(ServerFixture server, string sourceAddress)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(IPAddress.Parse(sourceAddress), 0));
                    await socket.ConnectAsync(context.DnsEndPoint, ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        var http = new HttpClient(handler) { BaseAddress = server.BaseAddress };
        http.DefaultRequestHeaders.Add("X-API-Key", ServerFixture.ApiKey);
        return http;
    }
}
