using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text.Json;
using Xunit.Abstractions;

namespace Switchboard.FunctionalTests;

/// <summary>
/// The protocol fuzz test: at least 20,000 generated and mutated frames over many connections
/// while a healthy client receives a stream of publications. Seeded and reproducible: the seed
/// is printed, and SWITCHBOARD_FUZZ_SEED replays one.
/// </summary>
public sealed class FuzzTests(ITestOutputHelper output)
{
    private const int Frames = 20_000;
    private const int Workers = 8;
    private const int MaxMessageBytes = 4096;

    // What a hostile connection may see: the documented reply errors and close codes (100, internal
    // error, is documented but would mean an unhandled server fault, so it fails the test).
    private static readonly HashSet<int> ReplyErrors = [101, 102, 103, 104, 105, 106, 107, 108, 109, 111, 112];
    // 1007 is WebSocket's own answer to a text frame that is not valid UTF-8.
    private static readonly HashSet<int> CloseCodes = [1007, 1009, 3500, 3501, 3013];

    [Fact]
    public async Task Twenty_thousand_hostile_frames_leave_the_server_up_and_a_healthy_client_whole()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("SWITCHBOARD_FUZZ_SEED"), out var fixedSeed) ? fixedSeed : Random.Shared.Next();
        output.WriteLine($"fuzz seed: {seed} (SWITCHBOARD_FUZZ_SEED={seed} replays it)");
        Console.WriteLine($"fuzz seed: {seed}");

        await using var server = await ServerFixture.StartAsync($"--Switchboard:Client:MaxMessageBytes={MaxMessageBytes}");
        var unobserved = new ConcurrentQueue<Exception>();
        EventHandler<UnobservedTaskExceptionEventArgs> onUnobserved = (_, e) =>
        {
            if (e.Exception.ToString().Contains("Switchboard.Core", StringComparison.Ordinal) || e.Exception.ToString().Contains("Switchboard.Server", StringComparison.Ordinal))
            {
                unobserved.Enqueue(e.Exception);
            }
        };
        TaskScheduler.UnobservedTaskException += onUnobserved;
        try
        {
            await RunAsync(server, seed);
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= onUnobserved;
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        foreach (var entry in server.Errors.Entries.Take(5))
        {
            output.WriteLine("server error: " + entry);
        }
        Assert.Empty(unobserved);
        Assert.Empty(server.Errors.Entries);
    }

    private async Task RunAsync(ServerFixture server, int seed)
    {
        // The healthy client: subscribed to a channel with history, publications arriving all along.
        await using var healthy = await server.ConnectAsync(Tokens.Connection("steady", server.Time.GetUtcNow()));
        await healthy.CommandAsync("\"subscribe\":{\"channel\":\"chat:steady\"}");
        using var api = server.Api();
        var sent = 0;
        var done = new CancellationTokenSource();
        var publisher = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                await Api.PostAsync(api, "publish", $"{{\"channel\":\"chat:steady\",\"data\":{{\"n\":{sent + 1}}}}}");
                sent++;
            }
        });
        var received = new List<int>();
        var reader = Task.Run(async () =>
        {
            Task<JsonElement>? next = null;
            while (!publisher.IsCompleted || received.Count < sent)
            {
                next ??= healthy.NextPushAsync();
                if (await Task.WhenAny(next, publisher) != next)
                {
                    continue; // the publisher is done: the total is final, re-check it
                }
                var pub = (await next).GetProperty("pub");
                next = null;
                received.Add(pub.GetProperty("data").GetProperty("n").GetInt32());
                Assert.Equal((ulong)received.Count, pub.GetProperty("offset").GetUInt64());
            }
        });

        var framesSent = 0;
        var connections = 0;
        var violations = new ConcurrentQueue<string>();
        var kinds = new ConcurrentDictionary<string, int>();
        var closes = new ConcurrentDictionary<int, int>();
        await Task.WhenAll(Enumerable.Range(0, Workers).Select(worker => Task.Run(async () =>
        {
            var random = new Random(seed + worker);
            var fuzzer = new FrameFuzzer(random, MaxMessageBytes);
            while (Interlocked.CompareExchange(ref framesSent, 0, 0) < Frames)
            {
                Interlocked.Increment(ref connections);
                await using var client = await RawClient.OpenAsync(server.WebSocketUri);
                if (random.Next(10) < 7)
                {
                    await client.SendRawAsync("{\"id\":1000000,\"connect\":{}}");
                }
                for (var i = random.Next(1, 40); i > 0 && !client.IsClosed; i--)
                {
                    var frame = fuzzer.Next();
                    kinds.AddOrUpdate(frame.Kind, 1, (_, n) => n + 1);
                    Interlocked.Increment(ref framesSent);
                    try
                    {
                        if (frame.Fragmented && frame.Bytes.Length > 1)
                        {
                            var cut = random.Next(1, frame.Bytes.Length);
                            await client.SendBytesAsync(frame.Bytes[..cut], frame.Type, endOfMessage: false);
                            await client.SendBytesAsync(frame.Bytes[cut..], frame.Type, endOfMessage: true);
                        }
                        else
                        {
                            await client.SendBytesAsync(frame.Bytes, frame.Type);
                        }
                    }
                    catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
                    {
                        break; // the server closed the connection meanwhile
                    }
                }
                // Say goodbye with a command whose reply shows the server is done with everything sent.
                int? closeCode = null;
                try
                {
                    await client.SendRawAsync("{\"id\":999999,\"teleport\":{}}");
                    await client.ReplyAsync(999999);
                }
                catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or System.Threading.Channels.ChannelClosedException)
                {
                    closeCode = await client.ClosedAsync(TimeSpan.FromSeconds(10));
                }
                if (closeCode is { } code)
                {
                    closes.AddOrUpdate(code, 1, (_, n) => n + 1);
                    if (!CloseCodes.Contains(code))
                    {
                        violations.Enqueue($"close code {code}");
                    }
                }
                foreach (var message in client.Drain())
                {
                    if (message.ValueKind != JsonValueKind.Object)
                    {
                        violations.Enqueue($"not an object: {message}");
                    }
                    else if (message.TryGetProperty("error", out var error) && !ReplyErrors.Contains(error.GetProperty("code").GetInt32()))
                    {
                        violations.Enqueue($"error reply {error}");
                    }
                }
            }
        })));

        done.Cancel();
        await publisher;
        foreach (var entry in server.Errors.Entries.Take(5))
        {
            output.WriteLine("server error: " + entry);
        }
        await reader.WaitAsync(TimeSpan.FromSeconds(30));
        output.WriteLine($"{framesSent} frames over {connections} connections; kinds: {string.Join(", ", kinds.OrderBy(k => k.Key).Select(k => $"{k.Key} {k.Value}"))}; closes: {string.Join(", ", closes.OrderBy(k => k.Key).Select(k => $"{k.Key}×{k.Value}"))}; healthy client got {received.Count}/{sent}");

        Assert.True(framesSent >= Frames);
        Assert.Empty(violations);
        Assert.Equal(Enumerable.Range(1, sent), received);
        // The server is still up for everyone.
        await using var after = await server.ConnectAsync();
        Assert.True((await after.CommandAsync("\"subscribe\":{\"channel\":\"plain:after-fuzz\"}")).TryGetProperty("subscribe", out _));
    }
}
