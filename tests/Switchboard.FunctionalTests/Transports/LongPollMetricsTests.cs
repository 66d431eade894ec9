using System.Globalization;
using System.Net;

namespace Switchboard.FunctionalTests.Transports;

/// <summary>Run with the other metrics tests, alone: instruments are matched by meter name across the process.</summary>
[Collection(MetricsCollection.Name)]
public sealed class LongPollMetricsTests
{
    private static double Value(string scrape, string metric, params string[] labels)
        => scrape.Split('\n')
            .Where(line => line.StartsWith(metric + "{", StringComparison.Ordinal) || line.StartsWith(metric + " ", StringComparison.Ordinal))
            .Where(line => labels.All(l => line.Contains(l, StringComparison.Ordinal)))
            .Sum(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));

    private static async Task<string> ScrapeAsync(ServerFixture server)
    {
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        return await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
    }

    [Fact]
    public async Task A_waiting_poll_counts_as_a_long_poll_connection_and_its_bytes_count_under_long_poll()
    {
        await using var server = await LongPollServers.StartAsync("--Switchboard:Client:AllowedOrigins:0=https://app.example.com");
        var channel = "lp:" + Guid.NewGuid().ToString("N");
        var before = await ScrapeAsync(server);
        var poller = new LongPollClient(channel);
        await poller.PollAsync(server.BaseAddress, 0);
        var poll = poller.PollAsync(server.BaseAddress, 25_000);
        await Poll.UntilAsync(() => Task.FromResult(server.Node.Hub.Waiters.PollCount == 1 && server.Node.Hub.Waiters.Has(channel)), "the poll waits");

        var during = await ScrapeAsync(server);
        Assert.Equal(1, Value(during, "switchboard_connections", "transport=\"long_poll\""));
        await LongPollServers.PublishAsync(server, channel, "{\"n\":1}");
        await poll.WaitAsync(TimeSpan.FromSeconds(20));
        var (refused, _) = await LongPollClient.SendAsync(server.BaseAddress, "{\"channels\":{\"lp:x\":{}}}", origin: "https://evil.example.com");
        Assert.Equal(HttpStatusCode.Forbidden, refused);

        var after = await ScrapeAsync(server);
        Assert.Equal(0, Value(after, "switchboard_connections", "transport=\"long_poll\""));
        Assert.True(Value(after, "switchboard_transport_bytes_in_bytes_total", "transport=\"long_poll\"") > Value(before, "switchboard_transport_bytes_in_bytes_total", "transport=\"long_poll\""));
        Assert.True(Value(after, "switchboard_transport_bytes_out_bytes_total", "transport=\"long_poll\"") > Value(before, "switchboard_transport_bytes_out_bytes_total", "transport=\"long_poll\""));
        Assert.Equal(1, Value(after, "switchboard_connections_refused_total", "reason=\"origin\"") - Value(before, "switchboard_connections_refused_total", "reason=\"origin\""));
    }
}
