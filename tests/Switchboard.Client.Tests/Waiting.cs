using System.Text.Json;

namespace Switchboard.Client.Tests;

/// <summary>Awaiting what a user would observe: events, with a timeout instead of sleeps.</summary>
internal static class Waiting
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>Completes with the first event args matching <paramref name="match"/> raised after this call.</summary>
    public static Task<T> Next<T>(Action<EventHandler<T>> add, Func<T, bool>? match = null)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        add((_, args) =>
        {
            if (match is null || match(args))
            {
                done.TrySetResult(args);
            }
        });
        return done.Task.WaitAsync(Timeout);
    }

    /// <summary>The next <paramref name="count"/> publications of an enumeration started earlier.</summary>
    public static async Task<List<Publication>> TakeAsync(IAsyncEnumerator<Publication> reader, int count)
    {
        var taken = new List<Publication>();
        using var timeout = new CancellationTokenSource(Timeout);
        while (taken.Count < count)
        {
            Assert.True(await reader.MoveNextAsync().AsTask().WaitAsync(timeout.Token), "the enumeration ended");
            taken.Add(reader.Current);
        }
        return taken;
    }

    public static int N(this Publication publication) => publication.Data.GetProperty("n").GetInt32();

    public static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();
}
