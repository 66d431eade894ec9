using Xunit.Abstractions;
namespace Switchboard.FunctionalTests;

public sealed class SlowClientTests(ITestOutputHelper output)
{
    private readonly TaskCompletionSource<int> stop = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<RawClient, TaskCompletionSource> progress = [];

    // Reads publications until it has as many as were published in the end (known only then).
    private async Task<List<ulong>> ReadOffsetsAsync(RawClient client)
    {
        var offsets = new List<ulong>();
        Task<System.Text.Json.JsonElement>? next = null;
        while (!stop.Task.IsCompleted || offsets.Count < stop.Task.Result)
        {
            next ??= client.NextPushAsync();
            if (await Task.WhenAny(next, stop.Task) != next)
            {
                continue; // the total is known now: re-check before waiting on
            }
            offsets.Add((await next).GetProperty("pub").GetProperty("offset").GetUInt64());
            next = null;
            if (offsets.Count == 1500)
            {
                progress[client].TrySetResult(); // the warm-up is through
            }
        }
        return offsets;
    }

    [Fact]
    public async Task A_client_that_stops_reading_is_closed_with_3008_while_every_healthy_client_gets_every_publication()
    {
        await using var server = await ServerFixture.StartAsync("--Switchboard:Client:QueueMaxBytes=65536");
        var now = server.Time.GetUtcNow();
        const string channel = "chat:busy";
        var healthy = new List<RawClient>();
        for (var i = 0; i < 5; i++)
        {
            var client = await server.ConnectAsync(Tokens.Connection($"reader{i}", now));
            await client.CommandAsync($"\"subscribe\":{{\"channel\":\"{channel}\"}}");
            healthy.Add(client);
            progress[client] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        using var api = server.Api();
        var data = "{\"pad\":\"" + new string('z', 2000) + "\"}";
        var healthyReaders = healthy.Select(ReadOffsetsAsync).ToList(); // healthy clients keep reading throughout

        var count = 0;
        for (; count < 1500; count++)
        {
            await Api.PostAsync(api, "publish", $"{{\"channel\":\"{channel}\",\"data\":{data}}}");
        }
        await Task.WhenAll(healthy.Select(c => progress[c].Task));

        await using var stalled = await StalledClient.ConnectAsync(server, channel, Tokens.Connection("sleepy", now));
        var slow = Assert.Single(server.Node.Hub.UserClients("sleepy"));
        // Publish until the stalled client's socket buffers are full and its queue passes 64 KiB
        // (how much the kernel buffers first depends on the machine), then some more.
        var before = count;
        long peakQueue = 0;
        while (slow.DisconnectCode is null)
        {
            Assert.True(count - before < 50_000, "the stalled client was never cut off");
            await Api.PostAsync(api, "publish", $"{{\"channel\":\"{channel}\",\"data\":{data}}}");
            count++;
            peakQueue = Math.Max(peakQueue, server.Node.QueuedBytes().Max);
        }
        output.WriteLine($"cut off after {count - before} publications");
        for (var n = 0; n < 50; n++, count++)
        {
            await Api.PostAsync(api, "publish", $"{{\"channel\":\"{channel}\",\"data\":{data}}}");
        }

        // The stalled client was cut off once its queue passed 64 KiB…
        await slow.Writer.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(3008, slow.DisconnectCode);
        Assert.Empty(server.Node.Hub.UserClients("sleepy"));
        // …and every healthy client received every publication, in order.
        stop.TrySetResult(count);
        foreach (var offsets in await Task.WhenAll(healthyReaders))
        {
            Assert.Equal(Enumerable.Range(1, count).Select(o => (ulong)o), offsets);
        }
        // The server's memory for the slow client stayed within its queue bound, and is gone: nothing
        // is left queued anywhere and its session is forgotten.
        Assert.InRange(peakQueue, 1, 65536);
        Assert.Equal(0, server.Node.QueuedBytes().Total);
        Assert.DoesNotContain(slow, server.Node.Sessions);
        foreach (var client in healthy)
        {
            await client.DisposeAsync();
        }
    }
}
