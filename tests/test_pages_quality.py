"""The Forgetting-quality page under AppTest (issue 17 item 7): the cost before anything trains, the job, the score
table framed by Retrain (N other retrains) on top and the original at the bottom, the headline, the ε buckets and
U-LiRA's ROC, the examples not forgotten; a shared address shows the stored result without running anything.
A short digits recipe (20 epochs), N = 4, two methods: about half a minute."""

from apptest import figure, open_page, param, poll

QUERY = {"epochs": "20", "qmethods": "ft,ga", "qn": "4"}


def test_quality_page_shows_the_cost_then_the_judged_result_and_a_link_restores_it():
    at = open_page("pages/17_Quality.py", **QUERY)
    assert at.title[0].value == "Forgetting quality"
    assert at.multiselect(key="w_view_qmethods").value == ["ft", "ga"]
    cost = [i.value for i in at.info if "Not computed yet" in i.value]
    # 1 original + 2N retrains + N runs of each of the 2 methods, before anything trains
    assert cost and cost[0].startswith(f"Not computed yet for these settings. Cost: {1 + 8 + 8} model(s)")
    assert "8 retrains ×" in cost[0] and "4 ft runs" in cost[0]
    at.button(key="run_quality").click().run()
    at = poll(at, lambda a: a.get("arrow_data_frame") or a.dataframe, "the quality table", seconds=300)
    table = at.dataframe[0].value
    assert list(table.index)[0] == "Retrain (N other retrains)" and list(table.index)[-1] == "Original (no unlearning)"
    assert set(table.index) == {"Retrain (N other retrains)", "Original (no unlearning)", "Fine-tune",
                                "Gradient Ascent"}
    assert table.loc["Original (no unlearning)", "score ↑"] == 0.0
    assert all(iv.startswith("[") for iv in table["95 % interval"])
    ulira = at.dataframe[1].value  # U-LiRA in a table of its own (one table of twelve columns scrolled sideways)
    assert list(ulira.index) == list(table.index) and "U-LiRA TPR @ 1 % FPR" in ulira.columns
    words = " ".join(m.value for m in at.markdown).replace("\\", "")  # md() escapes Markdown
    assert "N other retrains score" in words and "ln(N − 1) = 1.10" in words
    assert "The original model (no unlearning) scores 0.000" in words
    eps = figure(at, 0)
    assert len(eps["data"]) == 4 and figure(at, 1)["layout"]["xaxis"]["type"] == "log"
    assert param(at, "qn") == "4" and param(at, "qmethods") == "ft,ga"

    fresh = open_page("pages/17_Quality.py", **QUERY)  # a shared link: the stored result, nothing to run
    assert not [i for i in fresh.info if "Not computed yet" in i.value]
    assert list(fresh.dataframe[0].value.index) == list(table.index)
    assert not any(b.key == "run_quality" for b in fresh.button)
    # the examples a method fails to forget: images with a button to the Sample page, or all within the floor
    assert fresh.selectbox(key="w_view_qshow").value in ("ft", "ga")
    assert fresh.get("imgs") or any("within Retrain's noise floor" in x.value for x in fresh.success)


def test_an_address_with_an_n_that_is_not_offered_falls_back_to_the_default():
    at = open_page("pages/17_Quality.py", epochs="20", qmethods="ft", qn="3")  # 3 is not an option
    assert at.segmented_control(key="w_view_qn").value == 16
