using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Switchboard.FunctionalTests;

/// <summary>Two servers allowing one extra origin: one with the WebSocket fast path, one without.</summary>
public sealed class OriginServers : IAsyncLifetime
{
    public const string Allowed = "https://app.example.com";

    public ServerFixture FastPath { get; private set; } = null!;

    public ServerFixture Fallback { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        FastPath = await ServerFixture.StartAsync("--Switchboard:Client:AllowedOrigins:0=" + Allowed);
        Fallback = await ServerFixture.StartAsync("--Switchboard:Client:AllowedOrigins:0=" + Allowed, "--Switchboard:Client:WebSocketFastPath=false");
    }

    public async Task DisposeAsync()
    {
        await FastPath.DisposeAsync();
        await Fallback.DisposeAsync();
    }

    public ServerFixture For(bool fastPath) => fastPath ? FastPath : Fallback;
}

/// <summary>
/// Cross-site WebSocket hijacking: a browser page of a foreign origin may not open a client
/// connection (403 before any WebSocket exists), on either WebSocket path; the server's own origin,
/// configured origins and clients that send no Origin (SDKs, bots) connect.
/// </summary>
public sealed class OriginTests(OriginServers servers) : IClassFixture<OriginServers>
{
    [Theory]
    [InlineData(true, "http://evil.example")]
    [InlineData(false, "http://evil.example")]
    [InlineData(true, "null")]
    [InlineData(false, "null")]
    [InlineData(true, "https://app.example.com.evil.example")]
    [InlineData(false, "http://app.example.com")]
    public async Task A_foreign_origin_is_refused_403_before_the_upgrade(bool fastPath, string origin)
    {
        var server = servers.For(fastPath);
        var head = await HandshakeAsync(server.BaseAddress, [origin]);
        Assert.StartsWith("HTTP/1.1 403 ", head, StringComparison.Ordinal);
        Assert.DoesNotContain("Sec-WebSocket-Accept", head, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_same_origin_a_configured_origin_and_no_origin_connect(bool fastPath)
    {
        var server = servers.For(fastPath);
        var own = $"http://{server.BaseAddress.Authority}";
        foreach (string[] origins in new[] { [own], [OriginServers.Allowed], Array.Empty<string>(), [own.ToUpperInvariant()] })
        {
            var head = await HandshakeAsync(server.BaseAddress, origins);
            Assert.StartsWith("HTTP/1.1 101 ", head, StringComparison.Ordinal);
            // Which path answered shows in the head: Kestrel's HTTP stack names itself, the fast path does not.
            Assert.Equal(!fastPath, head.Contains("Server: Kestrel", StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Two_origin_headers_are_refused(bool fastPath)
    {
        var server = servers.For(fastPath);
        var head = await HandshakeAsync(server.BaseAddress, [$"http://{server.BaseAddress.Authority}", "http://evil.example"]);
        Assert.StartsWith("HTTP/1.1 403 ", head, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_allowing_every_origin_accepts_a_foreign_one()
    {
        await using var open = await ServerFixture.StartAsync("--Switchboard:Client:AllowedOrigins:0=*");
        var head = await HandshakeAsync(open.BaseAddress, ["http://evil.example"]);
        Assert.StartsWith("HTTP/1.1 101 ", head, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("app.example.com")]
    [InlineData("https://app.example.com/path")]
    [InlineData("https://user@app.example.com")]
    public async Task An_allowed_origin_that_is_not_an_origin_fails_start_up(string entry)
    {
        var e = await Assert.ThrowsAnyAsync<Exception>(() => ServerFixture.StartAsync("--Switchboard:Client:AllowedOrigins:0=" + entry));
        Assert.Contains("Switchboard:Client:AllowedOrigins:0", e.Message, StringComparison.Ordinal);
    }

    // Sends an upgrade request with the given Origin headers; returns the response head.
    private static async Task<string> HandshakeAsync(Uri baseAddress, string[] origins)
    {
        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(baseAddress.Host, baseAddress.Port);
        var stream = tcp.GetStream();
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var request = new StringBuilder()
            .Append("GET /connection/websocket HTTP/1.1\r\n")
            .Append($"Host: {baseAddress.Authority}\r\n")
            .Append("Upgrade: websocket\r\nConnection: Upgrade\r\n")
            .Append($"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n");
        foreach (var origin in origins)
        {
            request.Append($"Origin: {origin}\r\n");
        }
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request.Append("\r\n").ToString()));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var head = new List<byte>();
        var one = new byte[1];
        while (!(head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
        {
            if (await stream.ReadAsync(one, cts.Token) == 0)
            {
                break;
            }
            head.Add(one[0]);
        }
        return Encoding.ASCII.GetString([.. head]);
    }
}
