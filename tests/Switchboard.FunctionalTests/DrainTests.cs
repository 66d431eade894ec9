using System.Net;
using System.Net.WebSockets;

namespace Switchboard.FunctionalTests;

public sealed class DrainTests
{
    [Fact]
    public async Task Stopping_fails_readiness_refuses_new_connections_and_sends_clients_away_with_3001_over_the_window()
    {
        var server = await ServerFixture.StartAsync("--Switchboard:Drain:Window=00:00:10", "--Switchboard:Drain:Batches=5");
        var clients = new List<RawClient>();
        for (var i = 0; i < 10; i++)
        {
            clients.Add(await server.ConnectAsync());
        }
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/healthz/ready", UriKind.Relative))).StatusCode);

        var stopping = server.App.StopAsync();
        await server.Node.DrainStarted.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync(new Uri("/healthz/ready", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/healthz/live", UriKind.Relative))).StatusCode);
        using var late = new ClientWebSocket { Options = { CollectHttpResponseDetails = true } };
        await Assert.ThrowsAsync<WebSocketException>(() => late.ConnectAsync(server.WebSocketUri, CancellationToken.None));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, late.HttpStatusCode);

        // Five batches, each at a random moment within its 2-second slot of the 10-second window.
        var sessions = server.Node.Sessions.ToList();
        Assert.Equal(10, sessions.Count);
        var disconnectedAt = new List<int>();
        for (var second = 1; second <= 10; second++)
        {
            server.Time.Advance(TimeSpan.FromSeconds(1));
            disconnectedAt.Add(sessions.Count(s => s.DisconnectCode is not null));
        }
        Assert.True(disconnectedAt[0] <= 2, $"after 1 s: {disconnectedAt[0]} gone"); // at most the first batch
        Assert.True(disconnectedAt[3] <= 4 * 10 / 5, $"after 4 s: {disconnectedAt[3]} gone"); // at most two batches
        // The drain runs on its own: once the window has passed on the clock, it sends the last
        // batch as soon as it is scheduled (a barrier, not a timing assumption).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (sessions.Any(s => s.DisconnectCode is null) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }
        Assert.Equal(10, sessions.Count(s => s.DisconnectCode is not null));
        foreach (var client in clients)
        {
            Assert.Equal(3001, await client.ClosedAsync());
        }
        await stopping.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, server.Node.SessionCount);
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }
        await server.DisposeAsync();
    }
}
