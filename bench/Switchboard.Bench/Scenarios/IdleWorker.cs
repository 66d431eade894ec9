using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace Switchboard.Bench;

/// <summary>
/// A generator worker process of the idle scenario (hidden <c>--worker idle</c> mode): opens
/// <c>--count</c> connections from one source address, joins each to a room, then keeps them
/// alive. Talks to the parent in lines: it writes JSON events on stdout (<c>ready</c>,
/// <c>progress</c>, <c>joined</c>, <c>status</c>, <c>done</c>) and reads commands on stdin
/// (<c>go</c>, <c>status</c>, <c>stop</c>; end of input = stop).
/// </summary>
internal static class IdleWorker
{
    public static async Task<int> RunAsync(Options o)
    {
        if (o.Worker != "idle" || o.Target is null || o.Source is null || o.Count <= 0)
        {
            await Console.Error.WriteLineAsync("worker mode needs --worker idle --target URI --source IP --count N");
            return 2;
        }
        var kind = ServerKind.Create(o.Servers[0]);
        var target = new Uri(o.Target);
        using var invoker = Transport.Create(IPAddress.Parse(o.Source), null);
        var run = new RunState();
        var rooms = Scenario.Rooms(o.Channels);
        var subscribers = Enumerable.Range(o.IdOffset, o.Count)
            .Select(id =>
            {
                var s = kind.CreateSubscriber(id, run, rooms[id % rooms.Length]);
                s.Invoker = invoker;
                return s;
            })
            .ToArray();

        Emit(new { @event = "ready" });
        if (await Console.In.ReadLineAsync() != "go")
        {
            return 1;
        }
        var sw = Stopwatch.StartNew();
        using var progressCts = new CancellationTokenSource();
        var progress = Task.Run(
            async () =>
            {
                using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
                try
                {
                    while (await timer.WaitForNextTickAsync(progressCts.Token))
                    {
                        Emit(new { @event = "progress", joined = subscribers.Count(s => s.Alive) });
                    }
                }
                catch (OperationCanceledException)
                {
                }
            },
            CancellationToken.None);
        string? error = null;
        try
        {
            await PublishSession.ConnectAllAsync(subscribers, target, o.ConnectConcurrency, m => Emit(new { @event = "log", message = m }), CancellationToken.None);
        }
        catch (InvalidOperationException e)
        {
            error = e.Message; // some could not join after three attempts: reported, not fatal
        }
        var seconds = sw.Elapsed.TotalSeconds;
        await progressCts.CancelAsync();
        await progress;
        var joined = subscribers.Count(s => s.Alive);
        Emit(new { @event = "joined", joined, failed = subscribers.Length - joined, seconds, error });

        using var keepAliveCts = new CancellationTokenSource();
        var keepAlive = PublishSession.KeepAliveLoopAsync(subscribers, keepAliveCts.Token);
        while (await Console.In.ReadLineAsync() is { } line && line != "stop")
        {
            if (line == "status")
            {
                var closes = subscribers.Where(s => !s.Alive && s.LastCloseReason is not null)
                    .GroupBy(s => s.LastCloseReason).OrderByDescending(g => g.Count()).Select(g => $"{g.Count()}× {g.Key}").FirstOrDefault();
                Emit(new { @event = "status", alive = subscribers.Count(s => s.Alive), disconnects = subscribers.Sum(s => s.Disconnects), closes });
            }
        }
        await keepAliveCts.CancelAsync();
        await keepAlive;
        await Parallel.ForEachAsync(subscribers, new ParallelOptions { MaxDegreeOfParallelism = 200 }, async (s, _) => await s.CloseAsync());
        Emit(new { @event = "done" });
        return 0;
    }

    private static void Emit(object message)
    {
        var line = JsonSerializer.Serialize(message);
        lock (Console.Out)
        {
            Console.Out.WriteLine(line);
            Console.Out.Flush();
        }
    }
}
