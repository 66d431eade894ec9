using Microsoft.Extensions.Time.Testing;

namespace Switchboard.Client.Tests;

/// <summary>A fake clock that also tells when a timer with a given due time is created, so a test advances it only once the client waits on it.</summary>
internal sealed class WatchedTime : FakeTimeProvider
{
    private readonly Lock _gate = new();
    private readonly List<(Func<TimeSpan, bool> Due, TaskCompletionSource Created)> _watches = [];

    public WatchedTime() : base(DateTimeOffset.UtcNow)
    {
    }

    /// <summary>Completes when a timer due in exactly <paramref name="due"/> is created after this call.</summary>
    public Task TimerCreated(TimeSpan due) => TimerCreated(d => d == due);

    /// <summary>Completes when a timer whose due time matches <paramref name="due"/> is created after this call.</summary>
    public Task TimerCreated(Func<TimeSpan, bool> due)
    {
        var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            _watches.Add((due, created));
        }
        return created.Task.WaitAsync(Waiting.Timeout);
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = base.CreateTimer(callback, state, dueTime, period);
        lock (_gate)
        {
            foreach (var watch in _watches.Where(w => w.Due(dueTime)).ToList())
            {
                _watches.Remove(watch);
                watch.Created.TrySetResult();
            }
        }
        return timer;
    }
}
