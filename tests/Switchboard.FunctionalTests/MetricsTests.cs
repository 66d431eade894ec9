using System.Globalization;

namespace Switchboard.FunctionalTests;

/// <summary>
/// Instruments are matched by meter name across the process, so these tests run alone (no other
/// server is busy meanwhile) and compare scrapes before and after.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MetricsCollection
{
    public const string Name = "metrics";
}

[Collection(MetricsCollection.Name)]
public sealed class MetricsTests
{
    private static double Delta(string before, string after, string metric, params string[] labels)
        => Value(after, metric, labels) - Value(before, metric, labels);

    /// <summary>The sum of every sample of a metric whose labels contain all of <paramref name="labels"/>.</summary>
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
    public async Task Metrics_move_when_clients_connect_subscribe_publish_fail_and_leave()
    {
        await using var server = await ServerFixture.StartAsync();
        var before = await ScrapeAsync(server);

        await using (var client = await server.ConnectAsync(Tokens.Connection("mo", server.Time.GetUtcNow())))
        {
            await client.CommandAsync("\"subscribe\":{\"channel\":\"chat:metrics\"}");
            await client.CommandAsync("\"subscribe\":{\"channel\":\"nowhere:x\"}");
            using var api = server.Api();
            await Api.PostAsync(api, "publish", "{\"channel\":\"chat:metrics\",\"data\":{\"n\":1}}");
            await client.NextPushAsync();
            var during = await ScrapeAsync(server);
            Assert.Equal(1, Delta(before, during, "switchboard_connections", "transport=\"websocket\""));
            Assert.Equal(1, Delta(before, during, "switchboard_subscriptions"));
            Assert.Equal(1, Delta(before, during, "switchboard_connects_total", "transport=\"websocket\""));
            Assert.Equal(1, Delta(before, during, "switchboard_commands_total", "method=\"subscribe\"", "result=\"ok\""));
            Assert.Equal(1, Delta(before, during, "switchboard_commands_total", "method=\"subscribe\"", "result=\"102\""));
            Assert.Equal(1, Delta(before, during, "switchboard_publications_in_total", "source=\"api\""));
            Assert.Equal(1, Delta(before, during, "switchboard_publications_out_total"));
            Assert.True(Delta(before, during, "switchboard_transport_bytes_in_bytes_total") > 0);
            Assert.True(Delta(before, during, "switchboard_transport_bytes_out_bytes_total") > 0);
            Assert.True(Delta(before, during, "switchboard_command_duration_seconds_count", "method=\"connect\"") >= 1);
            Assert.Contains("switchboard_queue_bytes", during, StringComparison.Ordinal);
        }

        await using (var client = await server.ConnectAsync(Tokens.Connection("mo", server.Time.GetUtcNow())))
        {
            await client.SendRawAsync("garbage");
            Assert.Equal(3501, await client.ClosedAsync());
        }
        // The close frame is sent after the disconnect is counted.
        var after = await ScrapeAsync(server);
        Assert.Equal(1, Delta(before, after, "switchboard_disconnects_total", "code=\"3501\""));
    }
}
